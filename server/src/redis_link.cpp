#include "fallbench/chat/redis_link.hpp"

#include "fallbench/chat/resp.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <stdexcept>

namespace fallbench::chat {

namespace net = boost::asio;
using tcp = net::ip::tcp;

redis_address parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) throw std::invalid_argument("expected redis://HOST:PORT, got '" + std::string(url) + "'");
  auto rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/@?") != std::string_view::npos)
    throw std::invalid_argument("only redis://HOST:PORT is supported (no user, database or options): '" +
                                std::string(url) + "'");
  redis_address a;
  auto const colon = rest.rfind(':');
  std::string_view host = rest.substr(0, colon);
  if (colon != std::string_view::npos) {
    auto const port = rest.substr(colon + 1);
    unsigned value = 0;
    auto const [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      throw std::invalid_argument("bad port in '" + std::string(url) + "'");
    a.port = static_cast<std::uint16_t>(value);
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  net::ip::make_address(std::string(host), ec);
  if (ec) throw std::invalid_argument("the host must be an IP address, got '" + std::string(host) + "'");
  a.host = std::string(host);
  return a;
}

/// One TCP connection to Redis in one role. Everything but publish() and the counters runs on the
/// strand; each connection attempt has a generation so handlers of a lost one do nothing.
class redis_link::connection : public std::enable_shared_from_this<connection> {
 public:
  enum class role { publisher, subscriber };

  connection(net::any_io_executor ex, role r, redis_link_options const& o, message_handler h)
      : strand_(net::make_strand(ex)), socket_(strand_), timer_(strand_), role_(r), options_(o),
        on_message_(std::move(h)), backoff_(o.backoff_min) {
    // Parse limits: a message may be as long as the largest chat the server accepts, and more.
    limits_.max_bulk_bytes = 64u << 20;
  }

  void start() {
    net::dispatch(strand_, [self = shared_from_this()] { self->connect(); });
  }

  void stop() {
    net::dispatch(strand_, [self = shared_from_this()] {
      self->stopped_ = true;
      self->timer_.cancel();
      self->close();
    });
  }

  void publish(std::string_view payload) {
    std::unique_lock lock(queue_mutex_);
    // A PUBLISH's framing is under 64 bytes beside the channel and the payload.
    auto const need = payload.size() + options_.channel.size() + 64;
    if (!up_ || queued_.size() + need > options_.max_pending_bytes) {
      ++dropped_;
      return;
    }
    resp::append_command(queued_, {"PUBLISH", options_.channel, payload});
    ++queued_count_;
    if (write_scheduled_) return;
    write_scheduled_ = true;
    lock.unlock();
    net::post(strand_, [self = shared_from_this(), gen = generation_.load()] { self->write_queued(gen); });
  }

  std::atomic<std::uint64_t> published_{0}, received_{0}, dropped_{0}, reconnects_{0}, protocol_errors_{0};
  std::atomic<bool> up_{false};          ///< Publisher: connected. Subscriber: SUBSCRIBE confirmed.

 private:
  void connect() {
    if (stopped_) return;
    boost::system::error_code ec;
    tcp::endpoint const ep{net::ip::make_address(options_.address.host, ec), options_.address.port};
    socket_ = tcp::socket(strand_);
    socket_.async_connect(ep, [self = shared_from_this(), gen = generation_.load()](boost::system::error_code e) {
      if (gen != self->generation_) return;
      if (e) return self->lost();
      self->on_connected();
    });
  }

  void on_connected() {
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    if (ever_up_) ++reconnects_;
    ever_up_ = true;
    backoff_ = options_.backoff_min;
    if (role_ == role::subscriber) {
      hello_.clear();
      resp::append_command(hello_, {"SUBSCRIBE", options_.channel});
      net::async_write(socket_, net::buffer(hello_),
                       [self = shared_from_this(), gen = generation_.load()](boost::system::error_code e, std::size_t) {
                         if (gen != self->generation_) return;
                         if (e) self->lost();
                       });
    } else {
      std::lock_guard lock(queue_mutex_);
      up_ = true;
    }
    read();
  }

  void read() {
    if (in_.size() - in_len_ < 16 * 1024) in_.resize(std::max<std::size_t>(in_len_ + 64 * 1024, in_.size() * 2));
    socket_.async_read_some(net::buffer(in_.data() + in_len_, in_.size() - in_len_),
                            [self = shared_from_this(), gen = generation_.load()](boost::system::error_code e, std::size_t n) {
                              if (gen != self->generation_) return;
                              if (e) return self->lost();
                              self->in_len_ += n;
                              self->take_replies();
                            });
  }

  void take_replies() {
    std::size_t at = 0;
    resp::value v;
    while (at < in_len_) {
      auto const r = resp::parse(std::string_view(in_.data() + at, in_len_ - at), v, limits_);
      if (r.status == resp::status::incomplete) break;
      if (r.status == resp::status::malformed || !handle(v)) {
        ++protocol_errors_;
        return lost();
      }
      at += r.consumed;
    }
    if (at > 0) {
      std::copy(in_.begin() + static_cast<std::ptrdiff_t>(at), in_.begin() + static_cast<std::ptrdiff_t>(in_len_), in_.begin());
      in_len_ -= at;
    }
    // A large buffer a burst needed is given back once it is empty again.
    if (in_len_ == 0 && in_.size() > 256 * 1024) std::string().swap(in_);
    read();
  }

  /// One reply. @return false when it cannot be one this role expects (the connection is then dropped).
  bool handle(resp::value const& v) {
    if (role_ == role::publisher) {
      if (v.type != resp::type::integer && v.type != resp::type::error) return false;
      std::lock_guard lock(queue_mutex_);
      if (in_flight_ == 0) return false;  // a reply to nothing we sent
      --in_flight_;
      if (v.type == resp::type::integer) {
        ++published_;
      } else {
        ++dropped_;
        ++protocol_errors_;
      }
      return true;
    }
    if (v.type != resp::type::array || v.elements.size() != 3 || v.elements[0].type != resp::type::bulk_string)
      return false;
    auto const kind = v.elements[0].text;
    if (kind == "message" && v.elements[2].type == resp::type::bulk_string) {
      ++received_;
      on_message_(v.elements[2].text);
      return true;
    }
    if (kind == "subscribe") {
      up_ = true;
      return true;
    }
    return false;
  }

  void write_queued(std::uint64_t gen) {
    if (gen != generation_) return;
    {
      std::lock_guard lock(queue_mutex_);
      writing_.clear();
      writing_.swap(queued_);
      in_flight_ += queued_count_;
      queued_count_ = 0;
    }
    net::async_write(socket_, net::buffer(writing_),
                     [self = shared_from_this(), gen](boost::system::error_code e, std::size_t) {
                       if (gen != self->generation_) return;
                       if (e) return self->lost();
                       {
                         std::lock_guard lock(self->queue_mutex_);
                         if (self->queued_.empty()) {
                           self->write_scheduled_ = false;
                           return;
                         }
                       }
                       self->write_queued(gen);
                     });
  }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  /// The connection failed or ended: what it had in flight is lost; try again after the backoff.
  void lost() {
    ++generation_;
    close();
    in_len_ = 0;
    {
      std::lock_guard lock(queue_mutex_);
      dropped_ += in_flight_ + queued_count_;
      in_flight_ = queued_count_ = 0;
      queued_.clear();
      write_scheduled_ = false;
      up_ = false;
    }
    if (stopped_) return;
    timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, options_.backoff_max);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
      if (!e) self->connect();
    });
  }

  net::strand<net::any_io_executor> strand_;
  tcp::socket socket_;
  net::steady_timer timer_;
  role role_;
  redis_link_options const options_;
  message_handler on_message_;
  resp::limits limits_;
  std::chrono::milliseconds backoff_;
  bool stopped_ = false;
  bool ever_up_ = false;
  std::atomic<std::uint64_t> generation_{0};
  std::string hello_;
  std::string in_;
  std::size_t in_len_ = 0;
  // Publisher: what publish() queued, what is being written, and commands sent but not yet answered.
  std::mutex queue_mutex_;
  std::string queued_;
  std::string writing_;
  std::uint64_t queued_count_ = 0;
  std::uint64_t in_flight_ = 0;
  bool write_scheduled_ = false;
};

redis_link::redis_link(net::any_io_executor ex, redis_link_options options, message_handler on_message) {
  publisher_ = std::make_shared<connection>(ex, connection::role::publisher, options, message_handler{});
  subscriber_ = std::make_shared<connection>(ex, connection::role::subscriber, options, std::move(on_message));
}

redis_link::~redis_link() { stop(); }

void redis_link::start() {
  publisher_->start();
  subscriber_->start();
}

void redis_link::stop() {
  publisher_->stop();
  subscriber_->stop();
}

void redis_link::publish(std::string_view payload) { publisher_->publish(payload); }

redis_link_stats redis_link::stats() const {
  redis_link_stats s;
  s.published = publisher_->published_;
  s.dropped = publisher_->dropped_;
  s.received = subscriber_->received_;
  s.reconnects = publisher_->reconnects_ + subscriber_->reconnects_;
  s.protocol_errors = publisher_->protocol_errors_ + subscriber_->protocol_errors_;
  s.publisher_up = publisher_->up_;
  s.subscribed = subscriber_->up_;
  return s;
}

}  // namespace fallbench::chat
