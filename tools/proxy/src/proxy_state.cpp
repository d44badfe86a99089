#include "proxy_state.hpp"

#include <openssl/ssl.h>

#include <stdexcept>

namespace fallbench::proxy::detail {

namespace {

namespace ssl = boost::asio::ssl;

std::unique_ptr<ssl::context> make_tls_context(proxy_options const& o) {
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    throw std::invalid_argument("TLS needs both a certificate and its key");
  if (o.tls_passthrough && !o.tls_cert_file.empty())
    throw std::invalid_argument("TLS is either terminated (a certificate) or passed through, not both");
  if (o.tls_cert_file.empty()) return nullptr;
  // Startup code: a file that cannot be used is named with OpenSSL's reason (docs/conventions.md section 4).
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec) throw std::runtime_error("TLS certificate '" + o.tls_cert_file + "': " + ec.message());
  ctx->use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
  if (ec) throw std::runtime_error("TLS key '" + o.tls_key_file + "': " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    throw std::runtime_error("TLS key '" + o.tls_key_file + "' does not match the certificate '" + o.tls_cert_file + "'");
  return ctx;
}

}  // namespace

proxy_state::proxy_state(proxy_options options, profile initial)
    : options_(std::move(options)), tls_(make_tls_context(options_)), started_(clock::now()) {
  check(initial);
  current_.prof = std::make_shared<profile const>(std::move(initial));
  current_.generation = 1;
  current_.since = started_;
}

void proxy_state::check(profile const& p) const {
  if (options_.tls_passthrough && needs_http(p))
    throw std::invalid_argument("profile " + describe(p) +
                                " reads HTTP or WebSocket frames, which a proxy passing TLS through never sees "
                                "(with --tls-passthrough: pass, latency, bandwidth, reset, idle-timeout with "
                                "idle-pings=count, max-lifetime with lifetime-of=all)");
}

proxy_state::snapshot proxy_state::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void proxy_state::set_profile(profile p) {
  auto const now = clock::now();
  fault_event e{now, std::chrono::duration_cast<std::chrono::microseconds>(now - started_), 0,
                std::string(to_string(p.kind)), "profile set: " + describe_effective(p)};
  {
    std::lock_guard lock(mutex_);
    current_.prof = std::make_shared<profile const>(std::move(p));
    ++current_.generation;
    current_.since = now;
  }
  append(std::move(e));
}

void proxy_state::fault(std::uint64_t connection, profile_kind kind, std::string what) {
  add(counters_.faults);
  auto const now = clock::now();
  append({now, std::chrono::duration_cast<std::chrono::microseconds>(now - started_), connection,
          std::string(to_string(kind)), std::move(what)});
}

void proxy_state::append(fault_event e) {
  std::shared_ptr<std::function<void(fault_event const&)> const> callback;
  {
    std::lock_guard lock(mutex_);
    callback = callback_;
    if (log_.size() < options_.max_log_entries) {
      log_.push_back(e);
    } else {
      add(counters_.log_dropped);
    }
  }
  if (callback && *callback) (*callback)(e);
}

void proxy_state::on_event(std::function<void(fault_event const&)> callback) {
  auto shared = std::make_shared<std::function<void(fault_event const&)> const>(std::move(callback));
  std::lock_guard lock(mutex_);
  callback_ = std::move(shared);
}

std::vector<fault_event> proxy_state::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

proxy_stats proxy_state::stats() const {
  auto get = [](std::atomic<std::uint64_t> const& c) { return c.load(std::memory_order_relaxed); };
  proxy_stats s;
  s.connections_accepted = get(counters_.connections_accepted);
  auto const closed = get(counters_.connections_closed);
  s.connections_open = s.connections_accepted > closed ? s.connections_accepted - closed : 0;
  s.bytes_up = get(counters_.bytes_up);
  s.bytes_down = get(counters_.bytes_down);
  s.http_requests = get(counters_.http_requests);
  s.http_responses = get(counters_.http_responses);
  s.upgrades_seen = get(counters_.upgrades_seen);
  s.upgrades_completed = get(counters_.upgrades_completed);
  s.upstream_failures = get(counters_.upstream_failures);
  s.protocol_errors = get(counters_.protocol_errors);
  s.idle_closed = get(counters_.idle_closed);
  s.header_timeouts = get(counters_.header_timeouts);
  s.truncated_requests = get(counters_.truncated_requests);
  s.bad_requests = get(counters_.bad_requests);
  s.faults = get(counters_.faults);
  s.log_dropped = get(counters_.log_dropped);
  s.tls_failures = get(counters_.tls_failures);
  return s;
}

}  // namespace fallbench::proxy::detail
