#pragma once
/// The server's link to Redis pub/sub for a cluster (docs/cluster.md): one connection SUBSCRIBEd to
/// the cluster's channel, one that PUBLISHes, both on Asio with RESP2 (resp.hpp).
///
/// Why our own client: hiredis has no Asio adapter (its libevent/libuv adapters would need a second
/// event loop), Debian packages no maintained Asio Redis client, and Boost.Redis arrives only with
/// Boost 1.84 (Debian's Boost is 1.81). Two commands and their replies are a small protocol surface.

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace fallbench::chat {

/// Where Redis is: parsed from redis://HOST:PORT (an IP address; no password, no database).
struct redis_address {
  std::string host;
  std::uint16_t port = 6379;
};

/// Parse `url`. @throws std::invalid_argument naming what is wrong.
redis_address parse_redis_url(std::string_view url);

struct redis_link_options {
  redis_address address;
  std::string channel = "fallbench";
  /// PUBLISH commands queued (bytes) while the previous write is on the wire; past it, publishes are
  /// dropped and counted. Bounds memory when Redis is slower than the room traffic.
  std::size_t max_pending_bytes = 8u << 20;
  /// Reconnection: the first retry after `backoff_min`, doubling to `backoff_max`.
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
};

struct redis_link_stats {
  std::uint64_t published = 0;   ///< PUBLISH commands Redis answered.
  std::uint64_t received = 0;    ///< Messages the subscription delivered (ours included).
  std::uint64_t dropped = 0;     ///< Publishes never answered: Redis down, queue full, or lost in flight.
  std::uint64_t reconnects = 0;  ///< Connections (either role) made again after one was lost.
  std::uint64_t protocol_errors = 0;  ///< Malformed or unexpected replies (the connection is dropped).
  bool publisher_up = false;
  bool subscribed = false;
};

class redis_link {
 public:
  /// Called on the link's strand for every message on the channel, with its payload.
  using message_handler = std::function<void(std::string_view payload)>;

  redis_link(boost::asio::any_io_executor ex, redis_link_options options, message_handler on_message);
  ~redis_link();
  redis_link(redis_link const&) = delete;
  redis_link& operator=(redis_link const&) = delete;

  /// Connect both roles (and keep reconnecting until stop()).
  void start();
  /// Close both connections; pending publishes are dropped. Safe to call from any thread.
  void stop();
  /// Queue PUBLISH channel payload. Thread-safe, never blocks: when the publisher is down or its
  /// queue is full the message is dropped and counted (the room's local members already have it).
  void publish(std::string_view payload);

  redis_link_stats stats() const;

 private:
  class connection;
  std::shared_ptr<connection> publisher_;
  std::shared_ptr<connection> subscriber_;
};

}  // namespace fallbench::chat
