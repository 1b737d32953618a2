#include "report/svg_axis.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace krill::report {

double nice_step(double lo, double hi, int target, bool integer) {
  const double span = hi - lo;
  if (!std::isfinite(span) || span <= 0) return integer ? 1.0 : 0.0;
  const double raw = span / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * magnitude;
  for (const double m : {1.0, 2.0, 5.0}) {
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  }
  return integer ? std::max(1.0, std::round(step)) : step;
}

std::vector<double> nice_ticks(double lo, double hi, int target, bool integer) {
  std::vector<double> out;
  const double step = nice_step(lo, hi, target, integer);
  if (!(step > 0) || !std::isfinite(lo) || !std::isfinite(hi) || hi < lo) return out;
  const double eps = step * 1e-9;
  for (auto k = static_cast<long long>(std::ceil((lo - eps) / step));
       static_cast<double>(k) * step <= hi + eps; ++k) {
    out.push_back(static_cast<double>(k) * step);
    if (out.size() > 1000) break;  // cannot happen with a finite span; a guard all the same
  }
  return out;
}

std::string tick_label(double value, double step) {
  int decimals = 0;
  if (step > 0 && step < 1) decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  if (std::fabs(value) < step * 1e-6) value = 0;  // no "-0.0" or 1e-17 from k * step
  std::string s = fmt::format("{:.{}f}", value, std::clamp(decimals, 0, 12));
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);
  return s;
}

Axis Axis::linear(double lo, double hi, bool integer) {
  Axis a;
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    const double half = lo == 0 ? 0.5 : std::fabs(lo) * 0.1;
    lo -= half, hi += half;
  }
  const double pad = (hi - lo) * 0.04;
  a.lo_ = lo - pad;
  a.hi_ = hi + pad;
  const double step = nice_step(a.lo_, a.hi_, 6, integer);
  for (const double v : nice_ticks(a.lo_, a.hi_, 6, integer)) {
    a.ticks_.push_back({v, tick_label(v, step)});
  }
  return a;
}

Axis Axis::log(double lo, double hi) {
  if (!(lo > 0) || !(hi > 0) || !std::isfinite(lo) || !std::isfinite(hi)) return linear(lo, hi);
  if (hi < lo) std::swap(lo, hi);
  Axis a;
  a.kind_ = Kind::Log;
  double l0 = std::log10(lo), l1 = std::log10(hi);
  if (l1 == l0) l0 -= 0.5, l1 += 0.5;
  const double pad = (l1 - l0) * 0.04;
  l0 -= pad, l1 += pad;
  a.lo_ = std::pow(10.0, l0);
  a.hi_ = std::pow(10.0, l1);
  auto collect = [&](std::initializer_list<double> mantissas) {
    a.ticks_.clear();
    for (auto k = static_cast<int>(std::floor(l0)); k <= static_cast<int>(std::ceil(l1)); ++k) {
      for (const double m : mantissas) {
        const double v = m * std::pow(10.0, k);
        const double lv = std::log10(v);
        if (lv >= l0 - 1e-9 && lv <= l1 + 1e-9) a.ticks_.push_back({v, fmt::format("{:g}", v)});
      }
    }
  };
  collect({1.0});
  if (a.ticks_.size() < 3) collect({1.0, 2.0, 5.0});
  if (a.ticks_.size() < 2) {  // a narrow range: linear ticks placed on the log scale
    a.ticks_.clear();
    const double step = nice_step(a.lo_, a.hi_, 4);
    for (const double v : nice_ticks(a.lo_, a.hi_, 4)) {
      if (v > 0) a.ticks_.push_back({v, tick_label(v, step)});
    }
  }
  return a;
}

Axis Axis::categories(std::vector<std::string> names) {
  Axis a;
  a.kind_ = Kind::Category;
  a.lo_ = -0.5;
  a.hi_ = static_cast<double>(std::max<size_t>(names.size(), 1)) - 0.5;
  for (size_t i = 0; i < names.size(); ++i) {
    a.ticks_.push_back({static_cast<double>(i), std::move(names[i])});
  }
  return a;
}

double Axis::map(double value) const {
  double t = 0;
  if (kind_ == Kind::Log) {
    t = value > 0 ? (std::log10(value) - std::log10(lo_)) / (std::log10(hi_) - std::log10(lo_))
                  : 0.0;
  } else {
    t = (value - lo_) / (hi_ - lo_);
  }
  return p0_ + t * (p1_ - p0_);
}

}  // namespace krill::report
