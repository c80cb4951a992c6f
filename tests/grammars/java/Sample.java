package com.example.shapes;

import java.util.List;
import java.util.*;
import static java.lang.Math.PI;
import com.example.geom.Point;

public class Circle extends Shape implements Drawable, Comparable<Circle> {
    public static final int MAX_RADIUS = 100;
    private final double r;
    public Circle(double r) { this.r = r; }
    @Override
    public double area() { return PI * square(r); }
    private static double square(double x) { return Math.pow(x, 2); }
    enum Kind { SMALL, LARGE }
    interface Visitor<T> { T visit(Circle c); }
    record Pair(int a, int b) {}
}
@interface Marker {}
