#pragma once
/// One client connection and its connection to the upstream: relays both directions through an HTTP
/// framer each and applies the current profile. Owned by its pending handlers (shared_from_this); all
/// its work runs on one strand, the executor its client socket was accepted with.

#include "frame_scanner.hpp"
#include "http_framer.hpp"
#include "proxy_state.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

namespace fallbench::proxy::detail {

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(boost::asio::ip::tcp::socket client, std::shared_ptr<proxy_state> state, std::uint64_t id);
  ~connection();
  connection(connection const&) = delete;
  connection& operator=(connection const&) = delete;

  /// Connect to the upstream and start relaying. Any thread.
  void run();
  /// The proxy's profile changed: re-evaluate this connection's faults. Any thread.
  void profile_changed();
  /// Close both sides. Any thread.
  void stop();

 private:
  using clock = std::chrono::steady_clock;
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::system::error_code;

  /// up: client -> upstream (requests); down: upstream -> client (responses).
  enum side : unsigned { up = 0, down = 1 };
  enum class ending { graceful, reset };

  /// Bytes waiting to go out in order: not before `release` (latency), then through the bucket.
  struct chunk {
    std::string bytes;
    std::size_t offset = 0;
    clock::time_point release;
    bool shutdown = false;     ///< Not bytes: half-close the sink here (the source ended).
    bool close_after = false;  ///< Close the connection once these bytes are written.
  };
  /// A request forwarded and not yet answered.
  struct pending_request {
    bool head_method = false;
    bool upgrade = false;
    clock::time_point forwarded{};  ///< when its head was relayed (request-deadline)
    std::string line;               ///< "GET /x", for the log
  };
  /// One direction's state: what was read and not framed yet, what waits to be written.
  struct direction {
    direction(boost::asio::any_io_executor const& ex, http_framer::role role, std::size_t max_head_bytes);
    http_framer framer;
    std::unique_ptr<char[]> read_buffer;
    std::string in;
    std::deque<chunk> out;
    std::size_t out_bytes = 0;
    bool reading = false, writing = false, pacing = false;
    bool source_ended = false, shutdown_queued = false, sink_shut = false;
    boost::asio::steady_timer pace;
    clock::time_point last_release{};
    // bandwidth: the token bucket and the profile generation it was filled for.
    double tokens = 0;
    clock::time_point refilled{};
    std::uint64_t bucket_generation = 0;
    // buffer-responses: the response being held.
    bool holding = false;
    bool held_split = false;
    unsigned held_status = 0;
    std::string held;
    clock::time_point held_since{};
    // latency: jitter draws.
    std::uint64_t rng = 0;
    // idle-timeout: when a byte, and a byte that is not a heartbeat, was last read from the source.
    clock::time_point last_read{}, last_data{};
    // upgrade-then-stall: bytes discarded, and whether that was logged for this profile.
    std::uint64_t dropped = 0;
    bool drop_logged = false;
  };

  direction& dir(side s) noexcept { return s == up ? up_dir_ : down_dir_; }
  tcp::socket& source(side s) noexcept { return s == up ? client_ : upstream_; }
  tcp::socket& sink(side s) noexcept { return s == up ? upstream_ : client_; }

  void start();
  void on_connect(error_code ec);
  void on_connect_timeout(error_code ec);
  void on_tls_handshake(error_code ec);

  void do_read(side s);
  void on_read(side s, error_code ec, std::size_t n);
  bool read_paused(side s) const;
  void process(side s);
  void on_source_ended(side s);
  void on_request_head(std::string_view bytes);
  void on_response_head(std::string_view bytes);
  void on_message_end(side s);
  void on_protocol_error(side s, bool in_body);
  void track_head();
  void arm_header_deadline();
  void on_header_deadline(error_code ec);
  void resume_requests();

  void emit(side s, std::string_view bytes);
  void emit_tunnel(side s, std::string_view bytes);
  void forward_request(http_head const& h, std::string_view bytes, bool upgrade);
  void enqueue(side s, std::string bytes, bool shutdown = false, bool close_after = false,
               clock::time_point not_before = {});
  void respond_and_close(int status, std::string_view body);
  void maybe_refuse();
  void do_write(side s);
  void on_write(side s, error_code ec, std::size_t n);
  void pace_until(side s, clock::time_point when);

  void refresh_profile();
  void arm_idle();
  void on_idle(error_code ec);
  void arm_kill();
  void arm_deadline();
  void on_deadline(error_code ec);
  void arm_lifetime();
  clock::time_point idle_since() const;
  void release_held();
  void arm_reset();
  void reset_now(std::string const& why);
  void touch() noexcept { last_activity_ = clock::now(); }
  void fault(std::string what);
  void maybe_finish();
  void close(ending how);

  std::shared_ptr<proxy_state> state_;
  std::uint64_t const id_;
  tcp::socket client_;
  /// TLS over client_ when the proxy terminates TLS; the upstream side stays plain.
  std::unique_ptr<boost::asio::ssl::stream<tcp::socket&>> tls_;
  bool tls_ready_ = false;
  tcp::socket upstream_;
  direction up_dir_;
  direction down_dir_;
  boost::asio::steady_timer connect_timer_, idle_timer_, kill_timer_, reset_timer_, hold_timer_;
  boost::asio::steady_timer deadline_timer_, lifetime_timer_, tls_timer_, header_timer_;
  frame_scanner up_frames_{true}, down_frames_{false};

  std::shared_ptr<profile const> profile_;
  std::uint64_t generation_ = 0;
  clock::time_point profile_since_{};

  std::deque<pending_request> pending_;
  clock::time_point started_{}, last_activity_{}, upgraded_at_{}, blackholed_at_{};
  clock::time_point head_since_{};  ///< When the request head being read began; zero: none is.
  std::uint64_t requests_ = 0;      ///< Request heads read on this connection.
  std::uint64_t relayed_ = 0;  ///< Bytes read from either side.
  bool connected_ = false, connect_timed_out_ = false, closed_ = false;
  bool tunnel_ = false;             ///< A 101 was relayed: raw bytes both ways.
  bool opaque_ = false;             ///< TLS passed through: raw bytes both ways from the start.
  bool close_after_response_ = false;  ///< rewrite-headers made the response say Connection: close.
  bool rewrite_logged_ = false, stall_logged_ = false;
  bool awaiting_upgrade_ = false;   ///< An upgrade request is forwarded; requests wait for its answer.
  bool refusing_ = false, refused_ = false, blackholed_ = false;
  bool answering_ = false;          ///< The proxy answers and closes; input is discarded.
  bool response_started_ = false;   ///< Some of the current response has been relayed.
  int refuse_status_ = 403;
  std::string refused_request_;
  bool latency_logged_ = false, bandwidth_logged_ = false;
  bool reset_armed_ = false;
  std::uint64_t reset_at_bytes_ = 0, reset_draws_ = 0;
};

}  // namespace fallbench::proxy::detail
