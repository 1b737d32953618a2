#include "report/html_report.hpp"

#include <fmt/core.h>

#include <cctype>
#include <string_view>

#include "report/embedded_assets.hpp"
#include "report/json_writer.hpp"
#include "report/pbt_lineage.hpp"
#include "report/svg_writer.hpp"

namespace krill::report {

namespace {

// HTML text and attribute values need exactly XML's five escapes.
std::string escape_html(std::string_view s) {
  return xml_escape(s);
}

// A parameter name as part of an element id: letters, digits, '_', '-', '.'; others become '_'.
std::string id_part(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool plain =
        std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    out += plain ? c : '_';
  }
  return out.empty() ? "_" : out;
}

struct Chart {
  std::string name;  // the id without "chart-"
  std::string kind;  // what report.js draws
  std::string title;
  std::string explain;
  std::string param;  // slices: the parameter
};

std::vector<Chart> charts_for(const ReportData& data) {
  const std::string objective = data.study.objective.empty() ? "value" : data.study.objective;
  const std::string better =
      data.study.direction == hpo::Direction::Maximize ? "higher is better" : "lower is better";
  std::vector<Chart> charts;
  charts.push_back({"history", "history", "Optimization history",
                    "Each trial's " + objective + " (" + better +
                        ") by trial number, coloured by state; the line is the best so far.",
                    ""});
  charts.push_back({"history-time", "history-time", "Optimization history over time",
                    "The same against wall time: when each trial finished, in seconds since the "
                    "first trial started.",
                    ""});
  charts.push_back({"curves", "curves", "Learning curves",
                    "Every trial's reported " + objective +
                        " by step; dashed: stopped early, red: failed or diverged. Hover a line "
                        "for its parameters.",
                    ""});
  charts.push_back({"importance", "importance", "Parameter importance",
                    "PED-ANOVA (Watanabe et al., IJCAI 2023, as Optuna's "
                    "PedAnovaImportanceEvaluator with its defaults): how differently each "
                    "parameter is distributed among the top 10% of completed trials than among "
                    "all of them, as a share of the total. It says which parameters mattered "
                    "for reaching the best values within the ranges explored, not by how much "
                    "they move " +
                        objective + ".",
                    ""});
  charts.push_back({"parallel", "parallel", "Parallel coordinates",
                    "One line per finished trial through its parameters and " + objective +
                        ", coloured by " + objective + ".",
                    ""});
  charts.push_back({"contours", "contours", "Contours",
                    objective +
                        " over pairs of the four most important numeric parameters: a "
                        "Gaussian-kernel average of the completed trials' values (in each "
                        "parameter's range, log for log dimensions; the bandwidth about the "
                        "trials' mean spacing), the trials as dots on the same colours. The "
                        "surface smooths what was measured and invents nothing: away from the "
                        "dots it repeats the nearest trials.",
                    ""});
  for (const auto& d : data.dims) {
    std::string scale = d.kind == "choice" || d.kind == "grid" ? "its values" : "a linear axis";
    if (d.log) scale = "a log axis";
    charts.push_back(
        {"slice-" + id_part(d.name), "slice", "Slice: " + d.name,
         objective + " against " + d.name + " (" + scale + "), every other parameter free.",
         d.name});
  }
  int grid_dims = 0;
  for (const auto& d : data.dims) grid_dims += d.kind == "grid";
  if (grid_dims >= 2) {
    charts.push_back({"heatmap", "heatmap", "Grid heatmap",
                      std::string("Mean ") + objective + " over the first two grid dimensions" +
                          (grid_dims >= 3 ? ", one panel per value of the third" : "") +
                          (grid_dims >= 3 ? " (mean over the others)." : "."),
                      ""});
  }
  const bool pbt = count_exploits(data.trials) > 0;
  charts.push_back({"lr", "lr", "Learning rate",
                    std::string("The learning rate each trial used, by iteration (its schedule, "
                                "and any changes made during the run).") +
                        (pbt ? " A diamond marks a PBT exploit: the member copied a better one "
                               "and steps to its perturbed rate."
                             : ""),
                    ""});
  if (pbt) {
    charts.push_back({"lineage", "lineage", "PBT family tree",
                      "One line per member over the steps (the best one thick); an arrow from "
                      "the donor's line at its step to the member that copied its state, "
                      "labelled with the new hyperparameters (hover for all).",
                      ""});
  }
  charts.push_back({"timeline", "timeline", "Worker timeline",
                    "One row per worker, one bar per trial from start to finish, coloured by "
                    "state: gaps are idle workers.",
                    ""});
  return charts;
}

// The tables of trials that ended without a value or were stopped early, filled by report.js.
std::string table_sections() {
  const auto panel = [](const char* id, const char* title, const char* explain) {
    return fmt::format(
        "<section class=\"panel\" id=\"{0}\"><h2>{1}</h2><p class=\"explain\">{2}</p>"
        "<div class=\"trial-table\" id=\"table-{0}\" data-table=\"{0}\"></div></section>\n",
        id, title, explain);
  };
  return panel("failed", "Failed trials",
               "Trials that ended without a value: failed (the objective threw; the error is "
               "its message) or diverged (the loss became NaN or infinite).") +
         panel("stopped", "Stopped trials",
               "Trials that the stopping rule ended early: the step, the value there, and the "
               "rule's reason.");
}

std::string sections(const ReportData& data) {
  std::string out = table_sections();
  for (const Chart& c : charts_for(data)) {
    if (c.kind == "contours") {  // one chart per pair, made by report.js inside the div
      out += fmt::format(
          "<section class=\"panel wide\"><h2>{}</h2><p class=\"explain\">{}</p>"
          "<div class=\"contours\" id=\"contours\"></div></section>\n",
          escape_html(c.title), escape_html(c.explain));
      continue;
    }
    out += fmt::format(
        "<section class=\"panel\"><h2>{}</h2><p class=\"explain\">{}</p>"
        "<div class=\"chart\" id=\"chart-{}\" data-chart=\"{}\" data-kind=\"{}\" "
        "data-param=\"{}\"></div></section>\n",
        escape_html(c.title), escape_html(c.explain), escape_html(c.name), escape_html(c.name),
        c.kind, escape_html(c.param));
  }
  return out;
}

}  // namespace

std::vector<std::string> chart_names(const ReportData& data) {
  std::vector<std::string> names;
  for (const Chart& c : charts_for(data)) {
    if (c.kind != "contours") names.push_back(c.name);
  }
  return names;
}

std::string render_html(const ReportData& data, const HtmlOptions& options) {
  JsonWriter config;
  config.begin_object();
  config.field("refresh_seconds", options.refresh_seconds);
  config.field("data_url", options.data_url);
  config.end_object();

  const std::string_view tpl = kReportTemplateHtml;
  auto fill = [&](std::string_view key) -> std::string {
    if (key == "TITLE") return escape_html("krill report: " + data.study.name);
    if (key == "STUDY") return escape_html(data.study.name);
    if (key == "CSS") return kReportCss;
    if (key == "SECTIONS") return sections(data);
    if (key == "ECHARTS") return kEchartsJs;
    if (key == "DATA") return to_json(data);  // '<' is written \u003c: safe in <script>
    if (key == "CONFIG") return config.str();
    if (key == "JS") return kReportJs;
    return "";
  };
  // One pass over the template: "{{NAME}}" markers are replaced, and the inserted text is never
  // scanned again (the library may contain "{{").
  std::string out;
  out.reserve(tpl.size() + std::string_view(kEchartsJs).size() + 4096);
  size_t pos = 0;
  while (true) {
    const size_t open = tpl.find("{{", pos);
    if (open == std::string_view::npos) break;
    const size_t close = tpl.find("}}", open);
    if (close == std::string_view::npos) break;
    out.append(tpl.substr(pos, open - pos));
    out += fill(tpl.substr(open + 2, close - open - 2));
    pos = close + 2;
  }
  out.append(tpl.substr(pos));
  return out;
}

}  // namespace krill::report
