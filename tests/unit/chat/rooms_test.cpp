// The room registry (server/src/rooms.cpp): joins, leaves and disconnects with many sessions, and who
// a broadcast reaches. The sessions are fakes that count what they were sent: no sockets.

#include "fallbench/chat/chat_app.hpp"
#include "fallbench/chat/rooms.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace fallbench::chat {
namespace {

class counting_session final : public transport::session {
 public:
  explicit counting_session(std::string id) : id_(std::move(id)) {}
  std::string const& id() const noexcept override { return id_; }
  transport::transport_kind transport() const noexcept override { return transport::transport_kind::websocket; }
  transport::send_result send(std::span<transport::frame const> frames) override {
    if (closed_) return transport::send_result::closed;
    for (auto const& f : frames) received.emplace_back(f.packet());
    return transport::send_result::queued;
  }
  void close() override { closed_ = true; }
  bool closed() const noexcept override { return closed_; }

  std::vector<std::string> received;

 private:
  std::string id_;
  bool closed_ = false;
};

std::vector<std::shared_ptr<counting_session>> make_sessions(std::size_t n) {
  std::vector<std::shared_ptr<counting_session>> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(std::make_shared<counting_session>("s" + std::to_string(i)));
  return out;
}

/// The sessions (by index) that got exactly one copy of the last broadcast `packet`, and checks none got two.
std::set<std::size_t> receivers(std::vector<std::shared_ptr<counting_session>> const& sessions, std::string const& packet) {
  std::set<std::size_t> out;
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    auto const copies = std::count(sessions[i]->received.begin(), sessions[i]->received.end(), packet);
    EXPECT_LE(copies, 1) << "session " << i << " got " << copies << " copies of " << packet;
    if (copies == 1) out.insert(i);
  }
  return out;
}

std::set<std::size_t> members_of(room_registry const& rooms, std::string_view room) {
  std::set<std::size_t> out;
  for (auto const& m : *rooms.members(room)) {
    auto const s = m.session.lock();
    EXPECT_TRUE(s);
    EXPECT_EQ(s.get(), m.key);
    EXPECT_TRUE(out.insert(std::stoul(s->id().substr(1))).second) << "listed twice: " << s->id();
  }
  return out;
}

TEST(RoomRegistryTest, JoinsLeavesAndBroadcastsReachExactlyTheMembersWithManySessions) {
  auto sessions = make_sessions(3000);
  room_registry rooms;
  std::set<std::size_t> a, b;
  // Every session joins "a"; every third joins "b" too.
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    EXPECT_TRUE(rooms.join("a", sessions[i]));
    a.insert(i);
    if (i % 3 == 0) {
      EXPECT_TRUE(rooms.join("b", sessions[i]));
      b.insert(i);
    }
  }
  EXPECT_FALSE(rooms.join("a", sessions[7])) << "a second join of the same session";
  EXPECT_EQ(rooms.room_count(), 2u);
  EXPECT_EQ(members_of(rooms, "a"), a);
  EXPECT_EQ(members_of(rooms, "b"), b);

  // Leaves from the front, the middle and the end (the last member moves into the leaver's place).
  for (std::size_t i : {std::size_t{0}, std::size_t{1499}, std::size_t{2999}, std::size_t{1}, std::size_t{2998}}) {
    EXPECT_TRUE(rooms.leave("a", sessions[i].get()));
    a.erase(i);
  }
  // Every fourth leaves "a"; a leave of a non-member changes nothing.
  for (std::size_t i = 0; i < sessions.size(); i += 4) {
    EXPECT_EQ(rooms.leave("a", sessions[i].get()), a.erase(i) == 1);
  }
  EXPECT_FALSE(rooms.leave("a", sessions[0].get()));
  EXPECT_FALSE(rooms.leave("nowhere", sessions[5].get()));
  EXPECT_EQ(members_of(rooms, "a"), a);

  EXPECT_EQ(rooms.broadcast("a", transport::frame::message("to-a")), a.size());
  EXPECT_EQ(receivers(sessions, "4to-a"), a);
  EXPECT_EQ(rooms.broadcast("b", transport::frame::message("to-b")), b.size());
  EXPECT_EQ(receivers(sessions, "4to-b"), b);

  // Rejoining after a leave, then a broadcast after the change.
  EXPECT_TRUE(rooms.join("a", sessions[0]));
  a.insert(0);
  EXPECT_EQ(rooms.broadcast("a", transport::frame::message("again")), a.size());
  EXPECT_EQ(receivers(sessions, "4again"), a);

  // A session that is gone is skipped, not delivered to; a closed one does not count.
  sessions[3]->close();
  auto const gone_member = *std::next(a.begin(), 10);
  sessions[gone_member].reset();
  auto expected = a;
  expected.erase(3);
  expected.erase(gone_member);
  EXPECT_EQ(rooms.broadcast("a", transport::frame::message("after")), expected.size());

  // Everyone leaves "b": the room is deleted.
  for (auto i : b) {
    if (i == gone_member) continue;  // its slot still holds the key of the session that is gone
    EXPECT_TRUE(rooms.leave("b", sessions[i].get()));
  }
  if (b.contains(gone_member)) EXPECT_EQ(rooms.room_count(), 2u);
  else EXPECT_EQ(rooms.room_count(), 1u);
}

TEST(RoomRegistryTest, ASnapshotTakenBeforeAChangeKeepsItsMembers) {
  auto sessions = make_sessions(4);
  room_registry rooms;
  for (auto const& s : sessions) rooms.join("r", s);
  auto const before = rooms.members("r");
  EXPECT_EQ(rooms.members("r"), before) << "an unchanged room shares its snapshot";
  rooms.leave("r", sessions[0].get());
  rooms.join("r", sessions[0]);
  rooms.leave("r", sessions[2].get());
  EXPECT_EQ(before->size(), 4u);
  EXPECT_EQ(rooms.members("r")->size(), 3u);
  EXPECT_NE(rooms.members("r"), before);
}

TEST(RoomRegistryTest, ChatAppDisconnectLeavesEveryRoomAndTheEveryoneList) {
  auto sessions = make_sessions(500);
  chat_app app;
  std::vector<std::unique_ptr<client>> clients;
  for (auto const& s : sessions) {
    clients.push_back(std::make_unique<client>(s));
    app.on_connect(*clients.back(), "/", json::object());
  }
  // Clients join rooms "r0".."r4" by index; then every even one disconnects.
  for (std::size_t i = 0; i < clients.size(); ++i) {
    auto const room = "r" + std::to_string(i % 5);
    auto const args = R"({"room":")" + room + R"(","name":"n)" + std::to_string(i) + R"("})";
    EXPECT_EQ(app.on_raw_event(*clients[i], "/", "join", args, std::nullopt), sio_handler::raw_result::handled);
  }
  EXPECT_EQ(app.stats().rooms, 5u);
  for (std::size_t i = 0; i < clients.size(); i += 2) app.on_disconnect(*clients[i], "/");
  for (auto const& s : sessions) s->received.clear();

  // A chat in r1 reaches exactly the connected members of r1, the sender included.
  auto const sender = std::size_t{1};
  EXPECT_EQ(app.on_raw_event(*clients[sender], "/", "chat", R"({"room":"r1","name":"n1","msg":"hi"})", std::nullopt),
            sio_handler::raw_result::handled);
  std::set<std::size_t> r1;
  for (std::size_t i = 1; i < clients.size(); i += 2) if (i % 5 == 1) r1.insert(i);
  EXPECT_EQ(receivers(sessions, R"(42["chat",{"room":"r1","name":"n1","msg":"hi"}])"), r1);

  // The seed page's form goes to every connected client, and to no disconnected one.
  EXPECT_EQ(app.on_raw_event(*clients[sender], "/", "chat", R"({"name":"n1","msg":"all"})", std::nullopt),
            sio_handler::raw_result::handled);
  std::set<std::size_t> odd;
  for (std::size_t i = 1; i < clients.size(); i += 2) odd.insert(i);
  EXPECT_EQ(receivers(sessions, R"(42["chat",{"name":"n1","msg":"all"}])"), odd);

  for (std::size_t i = 1; i < clients.size(); i += 2) app.on_disconnect(*clients[i], "/");
  EXPECT_EQ(app.stats().rooms, 0u);
}

}  // namespace
}  // namespace fallbench::chat
