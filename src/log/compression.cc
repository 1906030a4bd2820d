#include "log/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace sluice::log {

namespace {

constexpr size_t kChunk = 64 * 1024;

Status TooBig(std::string_view codec, size_t max_bytes) {
  return Status::Corruption(fmt::format("{} data decompresses to more than {} bytes", codec, max_bytes));
}

Result<std::string> Gunzip(std::string_view in, size_t max_bytes) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return Status::Internal("inflateInit2 failed");
  std::unique_ptr<z_stream, decltype(&inflateEnd)> guard(&z, inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out.size() >= max_bytes) return TooBig("gzip", max_bytes);
    const size_t pos = out.size();
    out.resize(std::min(pos + kChunk, max_bytes));
    z.next_out = reinterpret_cast<Bytef*>(out.data() + pos);
    z.avail_out = static_cast<uInt>(out.size() - pos);
    rc = inflate(&z, Z_NO_FLUSH);
    out.resize(out.size() - z.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK || (z.avail_in == 0 && z.avail_out != 0)) {
      return Status::Corruption(fmt::format("gzip data is corrupt or truncated ({})", z.msg ? z.msg : "no detail"));
    }
  }
  return out;
}

Result<std::string> SnappyRaw(std::string_view in, size_t max_bytes, std::string* out) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &n)) return Status::Corruption("snappy data is corrupt");
  if (out->size() + n > max_bytes) return TooBig("snappy", max_bytes);
  std::string block;
  if (!snappy::Uncompress(in.data(), in.size(), &block)) return Status::Corruption("snappy data is corrupt");
  out->append(block);
  return std::string();
}

Result<std::string> Unsnappy(std::string_view in, size_t max_bytes) {
  static constexpr std::string_view kXerialMagic("\x82SNAPPY\0", 8);
  std::string out;
  if (!in.starts_with(kXerialMagic)) {
    SLUICE_RETURN_IF_ERROR(SnappyRaw(in, max_bytes, &out).status());
    return out;
  }
  // xerial framing: magic, version int32, compatible version int32, then (length int32, block)*.
  if (in.size() < 16) return Status::Corruption("snappy (xerial) header truncated");
  in.remove_prefix(16);
  while (!in.empty()) {
    if (in.size() < 4) return Status::Corruption("snappy (xerial) block length truncated");
    const uint32_t len = (static_cast<uint32_t>(static_cast<uint8_t>(in[0])) << 24) |
                         (static_cast<uint32_t>(static_cast<uint8_t>(in[1])) << 16) |
                         (static_cast<uint32_t>(static_cast<uint8_t>(in[2])) << 8) | static_cast<uint8_t>(in[3]);
    in.remove_prefix(4);
    if (len > in.size()) return Status::Corruption("snappy (xerial) block truncated");
    SLUICE_RETURN_IF_ERROR(SnappyRaw(in.substr(0, len), max_bytes, &out).status());
    in.remove_prefix(len);
  }
  return out;
}

Result<std::string> Unlz4(std::string_view in, size_t max_bytes) {
  LZ4F_dctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) return Status::Internal("lz4 context");
  std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> guard(ctx, LZ4F_freeDecompressionContext);
  std::string out;
  size_t hint = 1;
  while (!in.empty()) {
    if (out.size() >= max_bytes) return TooBig("lz4", max_bytes);
    const size_t pos = out.size();
    out.resize(std::min(pos + kChunk, max_bytes));
    size_t dst = out.size() - pos;
    size_t src = in.size();
    hint = LZ4F_decompress(ctx, out.data() + pos, &dst, in.data(), &src, nullptr);
    if (LZ4F_isError(hint)) return Status::Corruption(fmt::format("lz4 data is corrupt: {}", LZ4F_getErrorName(hint)));
    out.resize(pos + dst);
    in.remove_prefix(src);
    if (hint == 0) break;
    if (src == 0 && dst == 0) break;
  }
  if (hint != 0) return Status::Corruption("lz4 frame truncated");
  return out;
}

Result<std::string> Unzstd(std::string_view in, size_t max_bytes) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (ds == nullptr) return Status::Internal("zstd context");
  std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> guard(ds, ZSTD_freeDStream);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::string out;
  size_t rc = 1;
  while (input.pos < input.size || rc != 0) {
    if (out.size() >= max_bytes) return TooBig("zstd", max_bytes);
    const size_t pos = out.size();
    out.resize(std::min(pos + kChunk, max_bytes));
    ZSTD_outBuffer output{out.data() + pos, out.size() - pos, 0};
    rc = ZSTD_decompressStream(ds, &output, &input);
    if (ZSTD_isError(rc)) return Status::Corruption(fmt::format("zstd data is corrupt: {}", ZSTD_getErrorName(rc)));
    out.resize(pos + output.pos);
    if (rc != 0 && input.pos == input.size && output.pos < output.size) {
      return Status::Corruption("zstd frame truncated");
    }
  }
  return out;
}

}  // namespace

Result<std::string> Decompress(Compression codec, std::string_view in, size_t max_bytes) {
  switch (codec) {
    case Compression::kNone: return std::string(in);
    case Compression::kGzip: return Gunzip(in, max_bytes);
    case Compression::kSnappy: return Unsnappy(in, max_bytes);
    case Compression::kLz4: return Unlz4(in, max_bytes);
    case Compression::kZstd: return Unzstd(in, max_bytes);
  }
  return Status::InvalidArgument(fmt::format("unknown compression codec {}", static_cast<int>(codec)));
}

Result<std::string> Compress(Compression codec, std::string_view in) {
  std::string out;
  switch (codec) {
    case Compression::kNone: return std::string(in);
    case Compression::kGzip: {
      z_stream z{};
      if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return Status::Internal("deflateInit2 failed");
      }
      out.resize(deflateBound(&z, in.size()) + 32);
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      z.avail_in = static_cast<uInt>(in.size());
      z.next_out = reinterpret_cast<Bytef*>(out.data());
      z.avail_out = static_cast<uInt>(out.size());
      const int rc = deflate(&z, Z_FINISH);
      out.resize(out.size() - z.avail_out);
      deflateEnd(&z);
      if (rc != Z_STREAM_END) return Status::Internal("gzip compression failed");
      return out;
    }
    case Compression::kSnappy:
      snappy::Compress(in.data(), in.size(), &out);
      return out;
    case Compression::kLz4: {
      out.resize(LZ4F_compressFrameBound(in.size(), nullptr));
      const size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), nullptr);
      if (LZ4F_isError(n)) return Status::Internal("lz4 compression failed");
      out.resize(n);
      return out;
    }
    case Compression::kZstd: {
      out.resize(ZSTD_compressBound(in.size()));
      const size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 1);
      if (ZSTD_isError(n)) return Status::Internal("zstd compression failed");
      out.resize(n);
      return out;
    }
  }
  return Status::InvalidArgument("unknown compression codec");
}

}  // namespace sluice::log
