// Axes of the SVG figures: a data interval mapped onto a pixel interval (linear, logarithmic or
// evenly spaced categories) with readable tick values: multiples of 1, 2 or 5 times a power of
// ten on linear axes, powers of ten (and 2x, 5x when few decades) on log axes.
#pragma once

#include <string>
#include <vector>

namespace krill::report {

// Tick values in [lo, hi] at a 1-2-5 step giving about `target` ticks (at least 1 when
// `integer`). Empty when the interval is empty or not finite.
std::vector<double> nice_ticks(double lo, double hi, int target = 6, bool integer = false);
// The step nice_ticks() uses.
double nice_step(double lo, double hi, int target = 6, bool integer = false);
// A tick label with as many decimals as `step` needs ("0.25" for step 0.05, "40" for step 20).
std::string tick_label(double value, double step);

class Axis {
 public:
  enum class Kind { Linear, Log, Category };
  struct Tick {
    double value;  // in data units (a category's index for Category axes)
    std::string label;
  };

  // The data range [lo, hi] padded by 4% on each side (a zero-width range gets a unit width);
  // `integer` keeps tick steps whole (trial numbers, steps).
  static Axis linear(double lo, double hi, bool integer = false);
  // lo, hi > 0; padded by 4% of the range in log space.
  static Axis log(double lo, double hi);
  // One slot per name, evenly spaced, the first at the low end.
  static Axis categories(std::vector<std::string> names);

  // The pixel positions of the low and high ends (p0 > p1 for a y axis growing upwards).
  void set_pixels(double p0, double p1) {
    p0_ = p0;
    p1_ = p1;
  }
  double map(double value) const;  // data to pixel
  Kind kind() const { return kind_; }
  const std::vector<Tick>& ticks() const { return ticks_; }
  double lo() const { return lo_; }
  double hi() const { return hi_; }

 private:
  Kind kind_ = Kind::Linear;
  double lo_ = 0, hi_ = 1;  // the domain (category axes: -0.5 .. n - 0.5)
  double p0_ = 0, p1_ = 1;
  std::vector<Tick> ticks_;
};

}  // namespace krill::report
