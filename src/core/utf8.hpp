// UTF-8 text, as RFC 3629 defines it: what JSON must hold and what a study name must be (a name
// or an error message of other bytes, e.g. Latin-1 from a file name, would make invalid JSON).
#pragma once

#include <cstddef>
#include <string_view>

namespace krill {

// The length (1 to 4) of the well-formed UTF-8 sequence at the start of `s`, or 0 where none
// starts there: a stray continuation byte, a truncated sequence, an overlong form, a surrogate
// (U+D800 to U+DFFF) or a code point past U+10FFFF.
inline size_t utf8_sequence(std::string_view s) {
  if (s.empty()) return 0;
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the second byte's range (RFC 3629's table)
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0;  // no overlong form
    if (b0 == 0xed) hi = 0x9f;  // no surrogate
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90;  // no overlong form
    if (b0 == 0xf4) hi = 0x8f;  // nothing past U+10FFFF
  } else {
    return 0;  // a continuation byte, 0xc0, 0xc1 or 0xf5 to 0xff
  }
  if (s.size() < n || byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return n;
}

inline bool is_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence(s.substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace krill
