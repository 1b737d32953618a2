// A tiny SVG builder for the static figures of `krill report --png`: shapes, text and groups
// appended to one document, numbers printed with fixed precision so that the same figure gives the
// same bytes, and text escaped for XML.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace krill::report {

// Text with &, <, >, " and ' replaced by their XML entities.
std::string xml_escape(std::string_view text);
// A coordinate with two decimals ("12.50"; never "-0.00").
std::string svg_num(double v);

// Paint of a shape; empty fields are left out (SVG defaults: black fill, no stroke).
struct SvgStyle {
  std::string fill{};
  std::string stroke{};
  double stroke_width = 0;  // 0: not written
  std::string dash{};       // stroke-dasharray, e.g. "4 3"
  double opacity = 1;       // written when below 1
  std::string cls{};        // class attribute, to tell data marks from decoration
};

enum class Anchor { Start, Middle, End };

class Svg {
 public:
  Svg(int width, int height);

  int width() const { return width_; }
  int height() const { return height_; }

  void rect(double x, double y, double w, double h, const SvgStyle& style);
  void line(double x1, double y1, double x2, double y2, const SvgStyle& style);
  void circle(double cx, double cy, double r, const SvgStyle& style);
  void polyline(const std::vector<std::pair<double, double>>& points, const SvgStyle& style);
  void polygon(const std::vector<std::pair<double, double>>& points, const SvgStyle& style);
  // `rotate`: degrees about (x, y), e.g. -90 for a y-axis label; `halo`: a white outline that
  // keeps the text readable over lines.
  void text(double x, double y, std::string_view text, Anchor anchor = Anchor::Start,
            double size = 12, std::string_view fill = "#222", double rotate = 0, bool halo = false);
  // A <g> around the next shapes, with a <title> (a tooltip in viewers) when `title` is given.
  void open_group(std::string_view title = "");
  void close_group();

  // The whole document, ending "</svg>\n".
  std::string str() const;

 private:
  int width_, height_;
  std::string body_;
  int open_groups_ = 0;
};

// Colours: a 10-colour categorical palette (cycled) and a viridis-like ramp for t in [0, 1].
std::string palette_color(size_t i);
std::string viridis(double t);

}  // namespace krill::report
