// fhirpath/lexer: splits FHIRPath text into tokens (internal). Stateless; thread-safe.
#pragma once

#include "core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ucr::fhirpath {

enum class TokenKind : std::uint8_t {
  kEnd,
  kIdentifier,           ///< name or keyword
  kDelimitedIdentifier,  ///< `name` (text without backticks, escapes decoded)
  kString,               ///< 'text' (decoded)
  kNumber,               ///< 12 or 1.5
  kDate,                 ///< @2015-02 (text without '@')
  kDateTime,             ///< @2015-02-04T14:34 (text without '@')
  kTime,                 ///< @T14:34 (text without "@T")
  kVariable,             ///< %name, %`name`, %'name' (text is the name)
  kSpecial,              ///< $this, $index, $total (text without '$')
  kSymbol,               ///< operators and punctuation
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  std::size_t offset = 0;
};

/// The tokens of `text`, ending with kEnd; errors carry the position.
core::Result<std::vector<Token>> tokenize(std::string_view text);

}  // namespace ucr::fhirpath
