#include <vector>
#include "geometry/shape.h"
namespace geo {
constexpr int kMaxSides = 8;
enum class Kind { kCircle, kSquare };
using Scalar = double;
template <typename T>
class Shape : public Base<T> {
 public:
  Shape(int n);
  virtual ~Shape();
  virtual double area() const = 0;
  int sides() const { return n_; }
  static Shape* make(Kind k);
 private:
  int n_;
};
struct Circle final : Shape<double> {
  double area() const override;
};
double Circle::area() const { return compute(3.14, r_); }
template <typename T>
T clamp(T v) { return std::max(v, T{}); }
}  // namespace geo
int main() {
  geo::Circle c;
  auto* s = geo::Shape<int>::make(geo::Kind::kCircle);
  c.area();
  s->sides();
  std::vector<int> v;
  auto p = new geo::Circle();
  return geo::clamp(1);
}
