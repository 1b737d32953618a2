#include "report/json_writer.hpp"

#include <fmt/core.h>

#include <cmath>

#include "core/utf8.hpp"

namespace krill::report {

void JsonWriter::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (need_comma_) out_ += ',';
}

void JsonWriter::open(char c) {
  separate();
  out_ += c;
  need_comma_ = false;
}

void JsonWriter::close(char c) {
  out_ += c;
  need_comma_ = true;
}

void JsonWriter::key(std::string_view k) {
  value(k);
  out_ += ':';
  after_key_ = true;
  need_comma_ = false;
}

void JsonWriter::value(std::string_view v) {
  separate();
  out_ += '"';
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      // JSON is UTF-8: other bytes (a file name in Latin-1 in an error) become U+FFFD.
      const size_t n = utf8_sequence(v.substr(i));
      if (n == 0) {
        out_ += "\\ufffd";
      } else {
        out_.append(v.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\t':
        out_ += "\\t";
        break;
      case '<':  // never "</script>" inside a page
        out_ += "\\u003c";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out_ += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out_ += c;
        }
    }
  }
  out_ += '"';
  need_comma_ = true;
}

void JsonWriter::value(double v) {
  separate();
  out_ += std::isfinite(v) ? fmt::format("{}", v) : "null";
  need_comma_ = true;
}

void JsonWriter::value(int64_t v) {
  separate();
  out_ += std::to_string(v);
  need_comma_ = true;
}

void JsonWriter::value(bool v) {
  separate();
  out_ += v ? "true" : "false";
  need_comma_ = true;
}

void JsonWriter::null() {
  separate();
  out_ += "null";
  need_comma_ = true;
}

}  // namespace krill::report
