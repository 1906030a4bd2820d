#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace sluice::server::pgwire {

// Lexical work the protocol edge does on query text before the engine sees it: splitting a
// Query message into statements, finding and substituting $n parameters, and turning the
// engine's "line L, column C" into the character offset of ErrorResponse's position field.
// The scanner knows PostgreSQL's quoting ('...', E'...', "...", $tag$...$tag$, -- and /* */
// comments), so a ';' or '$1' inside any of them is left alone.

struct StatementSpan {
  size_t offset = 0;  // byte offset of the statement's first character in the whole text
  size_t length = 0;  // up to (not including) the ';' that ends it
};

// If a comment or quoted token ('...', "...", $$...$$) starts at text[i], the offset just
// past it (the end of the text if unterminated); else i.
size_t SkipQuoted(std::string_view text, size_t i);

// The statements of `text`, skipping pieces that hold only white space and comments.
std::vector<StatementSpan> SplitStatements(std::string_view text);

// The highest $n in `text` (0 if none). kInvalidArgument for $0 or n > 65535.
Result<size_t> MaxParameterIndex(std::string_view text);

// Replaces each $n with literals[n-1]. REQUIRES: MaxParameterIndex(text) <= literals.size().
std::string SubstituteParameters(std::string_view text, const std::vector<std::string>& literals);

// The first keyword of a statement, lower-cased ("select", "set", ...); "" if none.
std::string FirstKeyword(std::string_view text);

// The words of a statement outside quotes, lower-cased, punctuation dropped; at most `limit`.
std::vector<std::string> Words(std::string_view text, size_t limit);

// The 1-based character (not byte) offset of `byte_offset` in `text`, as PostgreSQL reports
// positions.
int32_t CharacterPosition(std::string_view text, size_t byte_offset);

// The byte offset of 1-based (line, column-in-bytes) within `text`, clamped to its size.
size_t ByteOffsetOf(std::string_view text, uint32_t line, uint32_t column);

// Text that puts `statement` at the line and column where it starts in the whole query, so
// that the engine's "line L, column C" refers to the whole query: the lines before it become
// empty lines and its column is padded with spaces.
std::string PlaceAtOriginalPosition(std::string_view whole, const StatementSpan& span);

}  // namespace sluice::server::pgwire
