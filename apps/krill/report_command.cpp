// `krill report study.db -o report.html`: writes a study's HTML report (one self-contained page).
// `krill report study.db --serve`: serves it live over HTTP on 127.0.0.1 (cpp-httplib); the page
// fetches /data.json every few seconds, read afresh from the database (SQLite's WAL lets it read
// while `krill tune` writes).
#include "report_command.hpp"

#include <fmt/core.h>
#include <httplib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/error.hpp"
#include "report/html_report.hpp"
#include "report/report_data.hpp"
#include "report/svg_figures.hpp"
#include "store/open.hpp"
#include "study_choice.hpp"

namespace krill::cli {

namespace {

struct ReportArgs {
  std::string db;
  std::string output;
  std::string figures;  // --png DIR
  std::string by;       // --by PARAM
  std::string study;
  bool serve = false;
  int port = 8080;
  std::string host = "127.0.0.1";
  int refresh = 5;
};

// The study's data, read afresh; errors name the database.
report::ReportData load(const ReportArgs& args) {
  const std::string db = hpo::display_location(args.db);
  auto storage = open_existing(args.db, store::Access::Read);
  try {
    return report::load_report_data(*storage, args.study);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(db + ": " + e.what());
  } catch (const DataError& e) {
    throw DataError(db + ": " + e.what());
  }
}

void write_figures(const ReportArgs& args, const report::ReportData& data) {
  const auto files = report::write_svg_figures(data, args.figures, args.by);
  fmt::print("krill: wrote {} figures (SVG) of study '{}' to {}\n", files.size(), data.study.name,
             args.figures);
}

void write_report(const ReportArgs& args) {
  const report::ReportData data = load(args);
  if (!args.figures.empty()) write_figures(args, data);
  if (args.output.empty()) return;
  const std::string page = report::render_html(data);
  // Like --png DIR: a folder that does not exist yet is made.
  if (const auto parent = std::filesystem::path(args.output).parent_path(); !parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec)
      throw InvalidArgument("-o: cannot create folder " + parent.string() + ": " + ec.message());
  }
  std::ofstream out(args.output, std::ios::binary);
  if (!out) throw InvalidArgument("-o: cannot write " + args.output);
  out << page;
  out.close();
  if (!out) throw DataError(args.output + ": write failed");
  fmt::print("krill: wrote the report of study '{}' ({} trials) to {}\n", data.study.name,
             data.trials.size(), args.output);
}

void serve(const ReportArgs& args) {
  const report::ReportData first = load(args);  // refuse a bad database before listening
  ReportArgs fixed = args;
  fixed.study = first.study.name;  // the same study on every request
  report::HtmlOptions options;
  options.refresh_seconds = args.refresh;
  options.data_url = "data.json";

  httplib::Server server;
  // cpp-httplib's default sets SO_REUSEPORT on Linux, which lets a second server bind a port that
  // one is listening on (the kernel then splits the connections between them). SO_REUSEADDR alone
  // allows a restart while old connections linger, and refuses a port in use.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server.Get("/", [fixed, options](const httplib::Request&, httplib::Response& res) {
    try {
      res.set_content(report::render_html(load(fixed), options), "text/html; charset=utf-8");
      res.set_header("Cache-Control", "no-store");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(std::string("krill: ") + e.what() + "\n", "text/plain; charset=utf-8");
    }
  });
  server.Get("/data.json", [fixed](const httplib::Request&, httplib::Response& res) {
    try {
      res.set_content(report::to_json(load(fixed)), "application/json");
      res.set_header("Cache-Control", "no-store");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(std::string("krill: ") + e.what() + "\n", "text/plain; charset=utf-8");
    }
  });

  int port = args.port;
  if (port == 0) {
    port = server.bind_to_any_port(args.host);
    if (port < 0) throw InvalidArgument("--host: cannot listen on " + args.host);
  } else if (!server.bind_to_port(args.host, port)) {
    throw InvalidArgument(
        fmt::format("cannot listen on {}:{} (in use? try --port 0)", args.host, port));
  }
  const std::string host =
      args.host.find(':') != std::string::npos ? "[" + args.host + "]" : args.host;
  fmt::print("krill: serving the report of study '{}' at http://{}:{}/ (Ctrl-C to stop)\n",
             first.study.name, host, port);
  std::fflush(stdout);
  if (!server.listen_after_bind()) throw DataError("the report server stopped on an error");
}

}  // namespace

void add_report_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report", "Write a study's HTML report (charts of its trials), or serve it live");
  cmd->add_option("database", args->db,
                  "a study database written by krill tune (a SQLite file or a postgresql:// URL)")
      ->required();
  auto* output = cmd->add_option("--output,-o", args->output, "the HTML file to write");
  cmd->add_option("--study", args->study, "which study, when the database holds several");
  auto* figures = cmd->add_option(
      "--png,--svg", args->figures,
      "also write each figure as a file in this folder, for papers (vector SVG: exact, and any "
      "tool converts it to PNG)");
  auto* by = cmd->add_option(
      "--by", args->by,
      "with --png: also figures that tell the trials apart by this searched parameter's value "
      "(curves-by-PARAM, lr-by-PARAM, slice-X-by-PARAM: a colour per value, a line through each "
      "value's mean)");
  by->needs(figures);
  auto* serve_flag = cmd->add_flag("--serve", args->serve,
                                   "serve the report over HTTP, updated live, until Ctrl-C");
  cmd->add_option("--port", args->port, "the port to serve on (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--host", args->host,
                  "the address to listen on (the default serves this machine only)")
      ->capture_default_str();
  cmd->add_option("--refresh", args->refresh, "with --serve: seconds between page updates")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  output->excludes(serve_flag);
  figures->excludes(serve_flag);
  cmd->callback([args, &exit_code] {
    args->db = database_location(args->db, "database");
    if (args->serve) {
      serve(*args);
    } else {
      if (args->output.empty() && args->figures.empty()) {
        throw InvalidArgument("report: give -o FILE, --png DIR, or --serve");
      }
      write_report(*args);
    }
    exit_code = 0;
  });
}

}  // namespace krill::cli
