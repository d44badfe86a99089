#include "fallbench/codec/error.hpp"

#include <string>

namespace fallbench::codec {
namespace {

// boost::system::error_category has a non-virtual destructor by design: categories are static
// singletons, never deleted through the base, so the warning does not apply here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

class codec_category final : public boost::system::error_category {
 public:
  char const* name() const noexcept override { return "fallbench.codec"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::empty_packet: return "empty packet";
      case error::unknown_packet_type: return "unknown packet type";
      case error::invalid_base64: return "invalid base64 in binary packet";
      case error::payload_too_large: return "payload exceeds maxPayload";
      case error::invalid_namespace: return "invalid namespace";
      case error::invalid_ack_id: return "invalid ack id";
      case error::invalid_attachments: return "invalid attachment count";
      case error::invalid_json: return "payload is not valid JSON";
      case error::invalid_payload: return "payload has the wrong shape for its packet type";
      case error::unexpected_binary: return "unexpected binary attachment";
      case error::invalid_handshake: return "invalid open packet";
      case error::json_too_deep: return "payload nests JSON too deeply";
    }
    return "unknown codec error";
  }

  boost::system::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<error>(ev)) {
      case error::payload_too_large:
      case error::json_too_deep: return condition::limit_exceeded;
      default: return condition::protocol_violation;
    }
  }
};

class codec_condition_category final : public boost::system::error_category {
 public:
  char const* name() const noexcept override { return "fallbench.codec.condition"; }

  std::string message(int ev) const override {
    switch (static_cast<condition>(ev)) {
      case condition::protocol_violation: return "protocol violation";
      case condition::limit_exceeded: return "limit exceeded";
    }
    return "unknown codec condition";
  }
};

#pragma GCC diagnostic pop

}  // namespace

boost::system::error_category const& error_category() noexcept {
  static codec_category const instance;
  return instance;
}

boost::system::error_category const& condition_category() noexcept {
  static codec_condition_category const instance;
  return instance;
}

error_code make_error_code(error e) noexcept { return {static_cast<int>(e), error_category()}; }

boost::system::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), condition_category()};
}

}  // namespace fallbench::codec
