#pragma once
// A client that stays connected (stdio now, WebSocket next): the legacy session its `initialize`
// opened carries every later message of the connection, until another `initialize` replaces it or
// the connection closes. Transports hold one and only frame bytes.
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "mcp/conversation.h"

namespace sandgate::mcp {

class ConnectionSession {
 public:
  // `connection` names the connection: its requests' session in the modern era and their cancel scope.
  // `headers`: what every message of the connection carries (its credential), as an HTTP request's would.
  // `stream`: where the session hears what no request of it carries (resource updates, list changes), once a
  // handshake-era `initialize` opened it; null: nowhere.
  ConnectionSession(Conversation& conversation, Transport transport, std::string connection, Headers headers = {},
                    std::shared_ptr<NotificationSink> stream = nullptr);

  // A delivery of `body` on this connection. Thread-safe.
  Delivery delivery(std::string body) const;
  // Takes in what an answer changed (a session `initialize` opened). Thread-safe.
  void answered(const Answer& answer);
  // The connection ended: its session closes and what its requests kept alive may go.
  void close();

 private:
  Conversation& conversation_;
  const Transport transport_;
  const std::string connection_;
  const Headers headers_;
  const std::shared_ptr<NotificationSink> stream_;
  mutable std::mutex mutex_;
  std::optional<std::string> session_;
};

}  // namespace sandgate::mcp
