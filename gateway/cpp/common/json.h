#pragma once
// Boost.JSON is compiled into the library once (json_impl.cc); everyone else includes this.
#include <boost/json.hpp>

namespace sandgate {
namespace json = boost::json;
}  // namespace sandgate
