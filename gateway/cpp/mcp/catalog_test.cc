#include "mcp/catalog.h"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/base64.h"

namespace sandgate::mcp {
namespace {

constexpr std::string_view kFiveTools = R"({
  "tools": [{"name":"t0"},{"name":"t1"},{"name":"t2"},{"name":"t3"},{"name":"t4"}],
  "resources": [{"uri":"mem://a","name":"a"}],
  "prompts": [{"name":"p0"},{"name":"p1"}]
})";

json::object expect_page(const Catalog& catalog, ListKind kind, const json::value* cursor) {
  auto page = catalog.page(kind, cursor);
  if (auto* fault = std::get_if<Fault>(&page)) {
    ADD_FAILURE() << "unexpected fault: " << fault->message;
    return {};
  }
  return json::parse(std::get<std::string>(page)).as_object();
}

std::vector<std::string> names(const json::object& page, std::string_view field = "tools") {
  std::vector<std::string> out;
  for (const json::value& item : page.at(field).as_array()) out.emplace_back(item.at("name").as_string());
  return out;
}

TEST(Catalog, PagesFiveToolsTwoAtATime) {
  const Catalog catalog(kFiveTools, 2);
  EXPECT_EQ(catalog.count(ListKind::kTools), 5u);

  const json::object first = expect_page(catalog, ListKind::kTools, nullptr);
  EXPECT_EQ(names(first), (std::vector<std::string>{"t0", "t1"}));
  ASSERT_TRUE(first.contains("nextCursor"));
  EXPECT_EQ(first.at("nextCursor").as_string(), encode_cursor(2));

  const json::object second = expect_page(catalog, ListKind::kTools, &first.at("nextCursor"));
  EXPECT_EQ(names(second), (std::vector<std::string>{"t2", "t3"}));
  ASSERT_TRUE(second.contains("nextCursor"));
  EXPECT_NE(second.at("nextCursor"), first.at("nextCursor"));

  const json::object last = expect_page(catalog, ListKind::kTools, &second.at("nextCursor"));
  EXPECT_EQ(names(last), (std::vector<std::string>{"t4"}));
  EXPECT_FALSE(last.contains("nextCursor"));
  EXPECT_EQ(last.size(), 1u);
}

TEST(Catalog, AFilteredListPagesOnlyKeptItemsWithoutSkipsOrRepeats) {
  const Catalog catalog(R"({"tools":[{"name":"t0"},{"name":"t1"},{"name":"t2"},{"name":"t3"},{"name":"t4"},
                                     {"name":"t5"},{"name":"t6"}]})", 2);
  EXPECT_EQ(catalog.tool_name(3), "t3");
  const Catalog::Keep odd = [&](std::size_t index) { return catalog.tool_name(index).back() % 2 == 1; };
  std::vector<std::string> seen;
  std::optional<json::value> cursor;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = catalog.page(ListKind::kTools, cursor ? &*cursor : nullptr, odd);
    const json::object object = json::parse(std::get<std::string>(page)).as_object();
    for (const std::string& name : names(object)) seen.push_back(name);
    if (!object.contains("nextCursor")) break;
    cursor = object.at("nextCursor");
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"t1", "t3", "t5"}));  // t6 kept nothing after t5: no empty last page
  const Catalog::Keep none = [](std::size_t) { return false; };
  EXPECT_EQ(std::get<std::string>(catalog.page(ListKind::kTools, nullptr, none)), R"({"tools":[]})");
}

TEST(Catalog, NullCursorMeansTheFirstPage) {
  const Catalog catalog(kFiveTools, 2);
  const json::value null_cursor = nullptr;
  EXPECT_EQ(names(expect_page(catalog, ListKind::kTools, &null_cursor)), (std::vector<std::string>{"t0", "t1"}));
}

TEST(Catalog, NextCursorOnlyWhenItemsRemain) {
  const Catalog exact(kFiveTools, 5);
  EXPECT_FALSE(expect_page(exact, ListKind::kTools, nullptr).contains("nextCursor"));
  const Catalog one_short(kFiveTools, 4);
  const json::object page = expect_page(one_short, ListKind::kTools, nullptr);
  EXPECT_EQ(page.at("tools").as_array().size(), 4u);
  EXPECT_TRUE(page.contains("nextCursor"));
  const Catalog roomy(kFiveTools, 100);
  EXPECT_FALSE(expect_page(roomy, ListKind::kTools, nullptr).contains("nextCursor"));
}

TEST(Catalog, ZeroPageSizeMeansOne) {
  const Catalog catalog(kFiveTools, 0);
  const json::object page = expect_page(catalog, ListKind::kPrompts, nullptr);
  EXPECT_EQ(names(page, "prompts"), (std::vector<std::string>{"p0"}));
  EXPECT_TRUE(page.contains("nextCursor"));
}

TEST(Catalog, AValidCursorWeCouldHaveIssuedIsAccepted) {
  const Catalog catalog(kFiveTools, 2);
  const json::value cursor(encode_base64("sg1:4"));
  EXPECT_EQ(names(expect_page(catalog, ListKind::kTools, &cursor)), (std::vector<std::string>{"t4"}));
}

TEST(Catalog, CursorsWeDidNotIssueAreInvalidParams) {
  const Catalog catalog(kFiveTools, 2);
  std::string non_canonical = encode_cursor(2);  // "c2cxOjI=": flip unused low bits of the last symbol
  ASSERT_EQ(non_canonical, "c2cxOjI=");
  non_canonical[6] = 'J';
  const json::value cursors[] = {
      json::value("garbage!!"),
      json::value("not base64"),
      json::value(""),
      json::value(non_canonical),
      json::value(encode_base64("xx1:2")),   // right encoding, wrong prefix
      json::value(encode_base64("SG1:2")),
      json::value(encode_base64("sg1:")),
      json::value(encode_base64("sg1:-1")),
      json::value(encode_base64("sg1:+2")),
      json::value(encode_base64("sg1: 2")),
      json::value(encode_base64("sg1:2x")),
      json::value(encode_base64("sg1:6")),   // past the end of five items
      json::value(encode_base64("sg1:99999999999999999999999")),
      json::value(2),
      json::value(true),
      json::value(json::object{{"offset", 2}}),
  };
  for (const json::value& cursor : cursors) {
    SCOPED_TRACE(json::serialize(cursor));
    auto page = catalog.page(ListKind::kTools, &cursor);
    ASSERT_TRUE(std::holds_alternative<Fault>(page));
    EXPECT_EQ(std::get<Fault>(page).kind, Failure::kInvalidParams);
  }
}

TEST(Catalog, MissingKindsAreEmptyLists) {
  const Catalog catalog(R"({"tools":[{"name":"t0"}]})", 2);
  for (ListKind kind : {ListKind::kResources, ListKind::kResourceTemplates, ListKind::kPrompts}) {
    SCOPED_TRACE(list_field(kind));
    EXPECT_EQ(catalog.count(kind), 0u);
    const json::object page = expect_page(catalog, kind, nullptr);
    ASSERT_TRUE(page.contains(list_field(kind)));
    EXPECT_TRUE(page.at(list_field(kind)).as_array().empty());
    EXPECT_FALSE(page.contains("nextCursor"));
  }
}

TEST(Catalog, ListFieldNames) {
  EXPECT_EQ(list_field(ListKind::kTools), "tools");
  EXPECT_EQ(list_field(ListKind::kResources), "resources");
  EXPECT_EQ(list_field(ListKind::kResourceTemplates), "resourceTemplates");
  EXPECT_EQ(list_field(ListKind::kPrompts), "prompts");
}

TEST(Catalog, MalformedCatalogThrowsInvalidArgument) {
  for (std::string_view text : {"", "not json", "[]", "1", "null", R"({"tools":{}})", R"({"tools":1})",
                                R"({"prompts":"x"})", R"({"resources":null})", R"({"resourceTemplates":{}})",
                                R"({"tools":[})"}) {
    SCOPED_TRACE(text);
    EXPECT_THROW(Catalog(text, 10), std::invalid_argument);
  }
  EXPECT_NO_THROW(Catalog("{}", 10));
  EXPECT_NO_THROW(Catalog(R"({"tools":[],"other":1})", 10));
}

TEST(Catalog, CapabilitiesAdvertiseAllThreeListsWithoutChangeNotificationsAndCompletions) {
  const Catalog catalog("{}", 10);
  const json::object caps = catalog.capabilities();
  EXPECT_EQ(caps.size(), 4u);
  EXPECT_EQ(caps.at("completions"), json::object{});
  EXPECT_EQ(caps.at("tools").at("listChanged"), json::value(true));
  EXPECT_EQ(caps.at("resources").at("subscribe"), json::value(true));
  EXPECT_EQ(caps.at("resources").at("listChanged"), json::value(true));
  EXPECT_EQ(caps.at("prompts").at("listChanged"), json::value(true));
}

}  // namespace
}  // namespace sandgate::mcp
