#include "report/svg_writer.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace krill::report {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string svg_num(double v) {
  if (!std::isfinite(v)) v = 0;
  std::string s = fmt::format("{:.2f}", v);
  if (s == "-0.00") s = "0.00";
  return s;
}

namespace {

std::string style_attrs(const SvgStyle& s) {
  std::string out;
  if (!s.cls.empty()) out += fmt::format(" class=\"{}\"", xml_escape(s.cls));
  if (!s.fill.empty()) out += fmt::format(" fill=\"{}\"", xml_escape(s.fill));
  if (!s.stroke.empty()) out += fmt::format(" stroke=\"{}\"", xml_escape(s.stroke));
  if (s.stroke_width > 0) out += fmt::format(" stroke-width=\"{}\"", svg_num(s.stroke_width));
  if (!s.dash.empty()) out += fmt::format(" stroke-dasharray=\"{}\"", xml_escape(s.dash));
  if (s.opacity < 1) out += fmt::format(" opacity=\"{}\"", svg_num(std::max(0.0, s.opacity)));
  return out;
}

}  // namespace

Svg::Svg(int width, int height) : width_(width), height_(height) {}

void Svg::rect(double x, double y, double w, double h, const SvgStyle& style) {
  body_ += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"{}/>\n", svg_num(x),
                       svg_num(y), svg_num(std::max(0.0, w)), svg_num(std::max(0.0, h)),
                       style_attrs(style));
}

void Svg::line(double x1, double y1, double x2, double y2, const SvgStyle& style) {
  body_ += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"{}/>\n", svg_num(x1),
                       svg_num(y1), svg_num(x2), svg_num(y2), style_attrs(style));
}

void Svg::circle(double cx, double cy, double r, const SvgStyle& style) {
  body_ += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\"{}/>\n", svg_num(cx), svg_num(cy),
                       svg_num(r), style_attrs(style));
}

void Svg::polyline(const std::vector<std::pair<double, double>>& points, const SvgStyle& style) {
  std::string pts;
  for (const auto& [x, y] : points) {
    if (!pts.empty()) pts += ' ';
    pts += svg_num(x) + ',' + svg_num(y);
  }
  body_ += fmt::format("<polyline points=\"{}\"{}/>\n", pts, style_attrs(style));
}

void Svg::polygon(const std::vector<std::pair<double, double>>& points, const SvgStyle& style) {
  std::string pts;
  for (const auto& [x, y] : points) {
    if (!pts.empty()) pts += ' ';
    pts += svg_num(x) + ',' + svg_num(y);
  }
  body_ += fmt::format("<polygon points=\"{}\"{}/>\n", pts, style_attrs(style));
}

void Svg::text(double x, double y, std::string_view text, Anchor anchor, double size,
               std::string_view fill, double rotate, bool halo) {
  const char* a = anchor == Anchor::Start ? "start" : anchor == Anchor::Middle ? "middle" : "end";
  std::string extra;
  if (rotate != 0) {
    extra = fmt::format(" transform=\"rotate({} {} {})\"", svg_num(rotate), svg_num(x), svg_num(y));
  }
  if (halo) extra += " stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\"";
  body_ += fmt::format(
      "<text x=\"{}\" y=\"{}\" text-anchor=\"{}\" font-size=\"{}\" fill=\"{}\"{}>{}</text>\n",
      svg_num(x), svg_num(y), a, svg_num(size), xml_escape(fill), extra, xml_escape(text));
}

void Svg::open_group(std::string_view title) {
  body_ += "<g>";
  if (!title.empty()) body_ += fmt::format("<title>{}</title>", xml_escape(title));
  body_ += '\n';
  ++open_groups_;
}

void Svg::close_group() {
  if (open_groups_ == 0) return;
  body_ += "</g>\n";
  --open_groups_;
}

std::string Svg::str() const {
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\">\n",
      width_, height_);
  out += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n",
                     width_, height_);
  out += body_;
  for (int i = 0; i < open_groups_; ++i) out += "</g>\n";
  out += "</svg>\n";
  return out;
}

std::string palette_color(size_t i) {
  static constexpr std::array<const char*, 10> kColors = {
      "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColors[i % kColors.size()];
}

std::string viridis(double t) {
  // Viridis sampled at nine points, interpolated linearly in RGB.
  static constexpr std::array<std::array<int, 3>, 9> kStops = {{{68, 1, 84},
                                                                {71, 44, 122},
                                                                {59, 81, 139},
                                                                {44, 113, 142},
                                                                {33, 144, 141},
                                                                {39, 173, 129},
                                                                {92, 200, 99},
                                                                {170, 220, 50},
                                                                {253, 231, 37}}};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * static_cast<double>(kStops.size() - 1);
  const auto i = std::min(static_cast<size_t>(t), kStops.size() - 2);
  const double f = t - static_cast<double>(i);
  std::array<int, 3> c{};
  for (size_t k = 0; k < 3; ++k) {
    c[k] = static_cast<int>(std::lround(kStops[i][k] + f * (kStops[i + 1][k] - kStops[i][k])));
  }
  return fmt::format("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
}

}  // namespace krill::report
