// Test helper: a small multi-file repository for context tests (Python, TypeScript, C++),
// with enough unrelated modules that small budgets bind.
// For tests only.
#pragma once

#include <string>
#include <vector>

#include "temp_tree.h"

namespace moecode::testing {

inline void make_repo(const TempTree& t) {
  t.write("geo/__init__.py", "");
  t.write("geo/shapes.py", R"(import math


class Shape:
    """Base class of all shapes."""

    def area(self) -> float:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{type(self).__name__} with area {self.area():.2f}"


class Circle(Shape):
    def __init__(self, r: float):
        self.r = r

    def area(self) -> float:
        return math.pi * self.r * self.r

    def scale(self, k: float) -> "Circle":
        """A circle k times as large."""
        return Circle(self.r * k)


def total_area(shapes, weights=None) -> float:
    """Sum of the areas, optionally weighted."""
    if weights is None:
        return sum(s.area() for s in shapes)
    return sum(s.area() * w for s, w in zip(shapes, weights))
)");
  t.write("app/main.py", R"(from geo.shapes import Circle, total_area


def report(items):
    c = Circle(2.0)
    bigger = c.scale(3)
    total = total_area([c, bigger])
    print("total", total)
    return total


def main():
    return report([])
)");
  // Unrelated modules: some define the same method names as geo.shapes.
  for (int i = 0; i < 24; ++i) {
    const std::string n = std::to_string(i);
    t.write("noise/mod" + n + ".py",
            "class Thing" + n + ":\n    def scale(self, k):\n        return self\n\n    def area(self):\n"
            "        return " + n + "\n\n\ndef helper_" + n + "(x):\n    return x + " + n + "\n\n\n"
            "def compute_" + n + "(values):\n    out = []\n    for v in values:\n        out.append(helper_" + n +
            "(v))\n    return out\n");
  }
  t.write("web/canvas.ts", R"(export interface Drawable {
  draw(ctx: CanvasRenderingContext2D): void;
}

export class Canvas {
  private items: Drawable[] = [];

  add(item: Drawable): Canvas {
    this.items.push(item);
    return this;
  }

  render(ctx: CanvasRenderingContext2D): void {
    for (const it of this.items) it.draw(ctx);
  }
}
)");
  t.write("web/app.ts", R"(import { Canvas, Drawable } from "./canvas";

const dot: Drawable = { draw(ctx) { ctx.fillRect(0, 0, 1, 1); } };

export function start(): Canvas {
  const cv = new Canvas();
  cv.add(dot);
  return cv;
}
)");
  t.write("native/include/geo/vec.h", "#pragma once\nstruct Vec { float x, y; };\nfloat dot(Vec a, Vec b);\n");
  t.write("native/src/vec.cpp", "#include \"geo/vec.h\"\n\nfloat dot(Vec a, Vec b) {\n  return a.x * b.x + a.y * b.y;\n}\n");
  t.write("native/src/use.cpp",
          "#include \"geo/vec.h\"\n\nfloat norm2(Vec v) {\n  return dot(v, v);\n}\n");
}

}  // namespace moecode::testing
