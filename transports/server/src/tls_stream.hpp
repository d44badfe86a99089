#pragma once
// The TLS stream a server connection runs over when the listener has a TLS context (docs/tls.md).

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <memory>

namespace fallbench::transport::detail {

/// Beast's ssl_stream: OpenSSL over the TCP stream (whose timer bounds the TLS handshake), with
/// flat_stream underneath so that a gather write (an HTTP header and its body) becomes one TLS record,
/// not one per buffer.
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using tls_stream_ptr = std::unique_ptr<tls_stream>;

}  // namespace fallbench::transport::detail
