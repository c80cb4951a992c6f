<?php
namespace Geo;

use Geo\Shapes\Shape;
require_once 'util.php';

const MAX = 10;

interface Drawable { public function draw(): void; }

trait Named { public function name(): string { return static::class; } }

class Circle extends Shape implements Drawable {
    use Named;
    public function __construct(private float $r) {}
    public function area(): float { return M_PI * square($this->r); }
    public static function unit(): self { return new Circle(1.0); }
    public function draw(): void { echo $this->area(); }
}

function square(float $x): float { return $x * $x; }
