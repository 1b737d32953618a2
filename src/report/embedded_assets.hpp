// The HTML report's assets, embedded at build time by embed.cmake (see src/CMakeLists.txt):
// Apache ECharts (web/node_modules/echarts/dist/echarts.min.js) and the page template files.
#pragma once

namespace krill::report {

extern const char* const kEchartsJs;
extern const char* const kReportTemplateHtml;  // report_template.html
extern const char* const kReportJs;            // report.js
extern const char* const kReportCss;           // report.css

}  // namespace krill::report
