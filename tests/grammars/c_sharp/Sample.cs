using System;
using Geo.Shapes;

namespace Geo.App
{
    public interface IDrawable { void Draw(Canvas c); }
    public enum Kind { Small, Large }
    public struct Point { public int X; }
    public record Pair(int A, int B);
    public class Circle : Shape, IDrawable
    {
        public const double Pi = 3.14;
        public Circle(double r) { R = r; }
        public double R { get; }
        public override double Area() => Pi * Square(R);
        public void Draw(Canvas c) { c.Add(new Point()); }
    }
}
