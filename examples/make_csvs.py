"""Write the small CSV files README's `denso` examples use (deterministic: run it again, get the same bytes).

    python examples/make_csvs.py          # writes examples/houses.csv, new-houses.csv, diabetes.csv

- houses.csv: 200 houses, features area (m²), rooms, age (years), distance (km to the centre) and the
  target price (~6e5): a regression whose target is far from unit scale (train it with --standardize).
- new-houses.csv: 5 more houses without a price, for `denso predict`.
- diabetes.csv: 200 patients, 6 standardised measurements and a whole-number disease progression
  score between 25 and 346, like scikit-learn's diabetes data: many distinct integer targets, which
  `--task auto` treats as a regression.
"""
from __future__ import annotations

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def houses(rng, n: int) -> tuple:
    area = rng.uniform(40, 220, n).round(1)
    rooms = np.clip(np.round(area / 30 + rng.normal(0, 0.7, n)), 1, 9)
    age = rng.integers(0, 80, n)
    distance = rng.uniform(0.5, 30, n).round(2)
    price = 4200 * area + 9000 * rooms - 1500 * age - 9000 * distance + 250_000 + rng.normal(0, 20_000, n)
    return np.column_stack([area, rooms, age, distance]), np.round(price, -2)


def write(name: str, header: list, columns: np.ndarray, fmt: list) -> None:
    with open(os.path.join(HERE, name), "w", newline="\n") as f:
        np.savetxt(f, columns, fmt=fmt, delimiter=",", header=",".join(header), comments="")


def main() -> None:
    rng = np.random.default_rng(2024)
    x, price = houses(rng, 200)
    names = ["area", "rooms", "age", "distance"]
    write("houses.csv", names + ["price"], np.column_stack([x, price]), ["%.1f", "%d", "%d", "%.2f", "%d"])
    x_new, _ = houses(rng, 5)
    write("new-houses.csv", names, x_new, ["%.1f", "%d", "%d", "%.2f"])
    m = rng.normal(0, 1, (200, 6)).round(3)
    score = 152 + m @ np.array([20.0, -8.0, 35.0, 15.0, -12.0, 25.0]) + rng.normal(0, 25, 200)
    write("diabetes.csv", [f"m{i}" for i in range(1, 7)] + ["progression"],
          np.column_stack([m, np.clip(np.round(score), 25, 346)]), ["%.3f"] * 6 + ["%d"])


if __name__ == "__main__":
    main()
