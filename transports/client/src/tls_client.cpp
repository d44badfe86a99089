// The client's TLS connections: the shared contexts, SNI, host-name verification and session
// resumption (docs/tls.md).

#include "eio_transport.hpp"

#include "fallbench/transport/tls.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ctime>
#include <map>
#include <mutex>
#include <utility>

namespace fallbench::transport {

namespace {

/// The ex_data slot of an SSL that holds its client's tls_session_cache (null: no resumption).
int session_cache_index() {
  static int const index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

/// The shared context's new-session callback: a session (over TLS 1.3, each ticket as it arrives
/// after the handshake) goes to the cache of the client that owns the connection.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
  if (auto* cache = static_cast<detail::tls_session_cache*>(SSL_get_ex_data(ssl, session_cache_index())))
    cache->store(session);
  return 0;  // OpenSSL keeps and drops its own reference; the cache took one of its own
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> client_tls_context(client_options const& o) {
  // One context per (verify, CA file) in the process, made on first use: loading and parsing a CA
  // file per client would dominate a connect ramp of thousands of clients.
  static std::mutex mutex;
  static std::map<std::pair<bool, std::string>, std::shared_ptr<boost::asio::ssl::context>> contexts;
  std::lock_guard lock(mutex);
  auto& ctx = contexts[{o.tls_verify, o.tls_verify ? o.tls_ca_file : std::string()}];
  if (!ctx) {
    ctx = make_client_tls_context(o.tls_verify, o.tls_ca_file);
    // Client-side caching, but never in the context's own store, which every client of the process
    // shares: each client keeps its sessions (detail::tls_session_cache).
    SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx->native_handle(), on_new_session);
  }
  return ctx;
}

namespace detail {

void tls_session_cache::session_free::operator()(SSL_SESSION* s) const noexcept { SSL_SESSION_free(s); }

void tls_session_cache::attach(SSL* ssl) {
  SSL_set_ex_data(ssl, session_cache_index(), this);
  std::lock_guard lock(mutex_);
  while (!sessions_.empty()) {
    session_ptr newest = std::move(sessions_.back());
    sessions_.pop_back();
    // Expired ones are dropped (OpenSSL would offer them and the server refuse them).
    if (SSL_SESSION_get_time(newest.get()) + SSL_SESSION_get_timeout(newest.get()) <= std::time(nullptr)) continue;
    SSL_set_session(ssl, newest.get());  // the connection takes a reference of its own
    if (SSL_SESSION_get_protocol_version(newest.get()) != TLS1_3_VERSION) sessions_.push_back(std::move(newest));
    return;
  }
}

void tls_session_cache::store(SSL_SESSION* session) {
  if (SSL_SESSION_is_resumable(session) != 1 || SSL_SESSION_up_ref(session) != 1) return;
  std::lock_guard lock(mutex_);
  sessions_.emplace_back(session);
  if (sessions_.size() > max_sessions) sessions_.pop_front();
}

std::size_t tls_session_cache::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

void count_tls_handshake(tls_stream& s, wire_counters& c) noexcept {
  ++c.tls_handshakes;
  if (SSL_session_reused(s.native_handle()) == 1) ++c.tls_resumed;
}

std::unique_ptr<tls_stream> make_tls_stream(boost::asio::any_io_executor ex, endpoint_info const& where) {
  auto s = std::make_unique<tls_stream>(std::move(ex), *where.tls);
  boost::system::error_code ec;
  boost::asio::ip::make_address(where.tls_host, ec);
  if (ec) {
    // SSL_set_tlsext_host_name, without its macro's C cast.
    SSL_ctrl(s->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(where.tls_host.c_str()));
  }
  if (where.tls_verify) s->set_verify_callback(boost::asio::ssl::host_name_verification(where.tls_host));
  if (where.tls_sessions) where.tls_sessions->attach(s->native_handle());
  return s;
}

std::string tls_failure(tls_stream& s, error_code ec) {
  std::string text = tls_reason(ec);
  long const verify = SSL_get_verify_result(s.native_handle());
  if (verify != X509_V_OK) text += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  return text;
}

}  // namespace detail
}  // namespace fallbench::transport
