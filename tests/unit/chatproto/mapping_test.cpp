// Event mappings (mapping.hpp): the default is our protocol byte for byte; a custom mapping builds
// its payloads from templates and finds the harness's tag in fields or in the message text.

#include "fallbench/chatproto/mapping.hpp"

#include <gtest/gtest.h>

namespace fallbench::chatproto {
namespace {

payload_template compile(std::string_view text) {
  std::string why;
  auto t = payload_template::compile(text, why);
  EXPECT_TRUE(t) << why;
  return t.value_or(payload_template{});
}

harness_tags const tags{7, 42, 1'000'000, 1'000'500};

// The generator reads the tags of our protocol's chats from their end, without the decoder; any other
// shape goes to the decoder, so tags are found wherever they are in the outer object, and tag-like
// text inside a string or a nested object is never taken for them.
TEST(MappingTest, DeliveryTagsAreReadFromTheEndOrByTheDecoder) {
  event_mapping const m;
  decoder d;
  auto const read = [&](std::string_view args) {
    harness_tags t{-9, -9, -9, -9};
    bool const ok = read_delivery_tags(m, d, args, t);
    return std::make_pair(ok, t);
  };
  auto const [ours_ok, ours] = read(R"({"room":"r1","name":"c2","msg":"x","k":7,"q":42,"t":1000000,"a":1000500})");
  EXPECT_TRUE(ours_ok);
  EXPECT_EQ(ours.stream, 7);
  EXPECT_EQ(ours.seq, 42);
  EXPECT_EQ(ours.intended_ns, 1'000'000);
  EXPECT_EQ(ours.sent_ns, 1'000'500);
  // Reordered by a relay: the decoder finds them.
  auto const [moved_ok, moved] = read(R"({"k":7,"q":42,"t":1000000,"a":1000500,"room":"r1","name":"c2","msg":"x"})");
  EXPECT_TRUE(moved_ok);
  EXPECT_EQ(moved.seq, 42);
  // Tag-like text in the message, and real tags before it: the real ones.
  auto const [inside_ok, inside] =
      read(R"({"room":"r1","name":"c2","k":1,"q":2,"t":3,"a":4,"msg":",\"k\":7,\"q\":42,\"t\":5,\"a\":6}"})");
  EXPECT_TRUE(inside_ok);
  EXPECT_EQ(inside.stream, 1);
  EXPECT_EQ(inside.seq, 2);
  // Tags in a nested object only: not the chat's.
  EXPECT_FALSE(read(R"({"room":"r1","name":"c2","msg":"x","o":{"k":7,"q":42,"t":5,"a":6}})").first);
  // A truncated tail, or bytes after it: not taken from the end (and the decoder refuses them).
  EXPECT_FALSE(read(R"({"room":"r1","name":"c2","msg":"x","k":7,"q":42,"t":5,"a":})").first);
  EXPECT_FALSE(read(R"({"room":"r1","name":"c2","msg":"x","k":7,"q":42,"t":5,"a":6}x)").first);
  // Negative stream or seq ids are refused either way.
  EXPECT_FALSE(read(R"({"room":"r1","name":"c2","msg":"x","k":-1,"q":42,"t":5,"a":6})").first);
}

TEST(MappingTest, TheDefaultIsOurProtocolUnchanged) {
  event_mapping const m;
  EXPECT_TRUE(m.is_default());
  std::string ours, mapped;
  append_membership("r1", "c2", ours);
  append_join(m, "r1", "c2", mapped);
  EXPECT_EQ(mapped, ours);
  ours.clear();
  mapped.clear();
  append_chat({"r1", "c2", "xxxx", tags}, ours);
  append_tagged_chat(m, "r1", "c2", "xxxx", tags, mapped);
  EXPECT_EQ(mapped, ours);
  decoder d;
  harness_tags read;
  ASSERT_TRUE(read_delivery_tags(m, d, mapped, read));
  EXPECT_EQ(read.stream, 7);
  EXPECT_EQ(read.seq, 42);
  EXPECT_EQ(read.intended_ns, 1'000'000);
  EXPECT_EQ(read.sent_ns, 1'000'500);
  EXPECT_TRUE(is_join_echo(m, d, R"({"room":"r1","name":"c2"})", "r1", "c2"));
  EXPECT_FALSE(is_join_echo(m, d, R"({"room":"r1","name":"c20"})", "r1", "c2"));
  EXPECT_EQ(m.confirm_text(), "an ack or the 'join' echo");
}

TEST(MappingTest, TemplatesFillPlaceholdersEscaped) {
  auto const t = compile(R"({"channel":"{room}","user":"{name}","text":"hi {msg}!"},"{room}")");
  std::string out;
  t.render("r\"1", "c2", "a\\b", out);
  EXPECT_EQ(out, R"({"channel":"r\"1","user":"c2","text":"hi a\\b!"},"r\"1")");
  EXPECT_TRUE(t.uses_msg());
  EXPECT_TRUE(t.first_is_object());
  std::string why;
  EXPECT_FALSE(payload_template::compile(R"({"x":"{rooom}"})", why));
  EXPECT_NE(why.find("{rooom}"), std::string::npos) << why;
}

TEST(MappingTest, ATextTagSurvivesAServerThatKeepsOnlyNameAndMessage) {
  event_mapping m;
  m.chat_event = "say";
  m.chat_args = compile(R"({"channel":"{room}","user":"{name}","text":"{msg}"})");
  m.delivery_event = "said";
  m.tag = tag_place::text;
  EXPECT_FALSE(m.is_default());
  std::string sent;
  append_tagged_chat(m, "r1", "c2", "xxxx", tags, sent);
  EXPECT_EQ(sent, R"({"channel":"r1","user":"c2","text":"fb1:7:42:1000000:1000500;xxxx"})");
  // What the server relays: {user, text}.
  decoder d;
  harness_tags read;
  ASSERT_TRUE(read_delivery_tags(m, d, R"({"user":"c2","text":"fb1:7:42:1000000:1000500;xxxx"})", read));
  EXPECT_EQ(read.stream, 7);
  EXPECT_EQ(read.seq, 42);
  EXPECT_EQ(read.sent_ns, 1'000'500);
  EXPECT_FALSE(read_delivery_tags(m, d, R"({"user":"c2","text":"hello"})", read));
  EXPECT_FALSE(read_delivery_tags(m, d, R"({"text":"fb1:7:42;"})", read));
}

TEST(MappingTest, FieldTagsGoIntoACustomObject) {
  event_mapping m;
  m.chat_args = compile(R"({"to":"{room}","body":"{msg}"})");
  std::string sent;
  append_tagged_chat(m, "r1", "c2", "xx", tags, sent);
  EXPECT_EQ(sent, R"({"to":"r1","body":"xx","k":7,"q":42,"t":1000000,"a":1000500})");
  decoder d;
  harness_tags read;
  ASSERT_TRUE(read_delivery_tags(m, d, sent, read));
  EXPECT_EQ(read.seq, 42);
}

TEST(MappingTest, ACustomJoinEchoIsRecognisedByRoomAndName) {
  event_mapping m;
  m.join_event = "enter";
  m.join_args = compile(R"({"channel":"{room}","user":"{name}"})");
  m.echo_event = "entered";
  m.confirm = join_confirm::echo;
  std::string join;
  append_join(m, "r0", "c3", join);
  EXPECT_EQ(join, R"({"channel":"r0","user":"c3"})");
  decoder d;
  EXPECT_TRUE(is_join_echo(m, d, R"({"user":"c3","channel":"r0"})", "r0", "c3"));
  EXPECT_FALSE(is_join_echo(m, d, R"({"user":"c31","channel":"r0"})", "r0", "c3"));
  EXPECT_FALSE(is_join_echo(m, d, R"({"user":"c3","channel":"r1"})", "r0", "c3"));
  EXPECT_EQ(m.confirm_text(), "the 'entered' echo");
}

}  // namespace
}  // namespace fallbench::chatproto
