"""A shop visitor for Locust, against loadbench's bundled app: browse, read, look up, order.

Used by scenarios/journeys.toml (`loadbench run journeys`). Each request has a `name`, so URLs that differ
only by an id are one workload in loadbench's results ("/db?id=[id]"), and the report compares a journey's
steps one by one, plus the whole `journey`. An order whose answer is not the order asked for is marked
failed with response.failure(), which loadbench counts in the error class check_failed.
"""

import random

from locust import FastHttpUser, between, task


class ShopVisitor(FastHttpUser):
    wait_time = between(0.05, 0.2)  # think time between steps, seconds

    @task(6)
    def browse_static(self) -> None:
        self.client.get("/static/1k.bin", name="/static/1k.bin")

    @task(4)
    def read_json(self) -> None:
        self.client.get("/json", name="/json")

    @task(3)
    def look_up(self) -> None:
        self.client.get(f"/db?id={random.randint(1, 1000)}", name="/db?id=[id]")

    @task(1)
    def order(self) -> None:
        item = random.randint(1, 1000)
        with self.client.post("/order", json={"item": item, "quantity": 1}, name="POST /order",
                              catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"order answered HTTP {response.status_code}")
            elif f'"item":{item},' not in response.text:
                response.failure("order answered for another item")
            else:
                response.success()
