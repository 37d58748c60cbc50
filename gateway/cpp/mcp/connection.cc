#include "mcp/connection.h"

#include <utility>

namespace sandgate::mcp {

ConnectionSession::ConnectionSession(Conversation& conversation, Transport transport, std::string connection,
                                     Headers headers, std::shared_ptr<NotificationSink> stream)
    : conversation_(conversation), transport_(transport), connection_(std::move(connection)),
      headers_(std::move(headers)), stream_(std::move(stream)) {}

Delivery ConnectionSession::delivery(std::string body) const {
  Delivery delivery;
  delivery.body = std::move(body);
  delivery.transport = transport_;
  delivery.peer = connection_;
  delivery.connection = connection_;
  delivery.headers = headers_;
  delivery.legacy_unless_stated = false;  // before `initialize`, a connected client speaks the modern era
  std::lock_guard lock(mutex_);
  delivery.session_id = session_;
  return delivery;
}

void ConnectionSession::answered(const Answer& answer) {
  if (!answer.opened_session) return;
  std::optional<std::string> replaced;
  {
    std::lock_guard lock(mutex_);
    replaced = std::exchange(session_, answer.opened_session);
  }
  if (replaced) conversation_.close_session(*replaced);
  if (stream_ == nullptr) return;
  if (replaced) conversation_.end_subscriptions(connection_);  // the new session subscribes afresh
  conversation_.attach_stream(connection_, stream_);
}

void ConnectionSession::close() {
  std::optional<std::string> session;
  {
    std::lock_guard lock(mutex_);
    session = std::exchange(session_, std::nullopt);
  }
  if (session) conversation_.close_session(*session);
  conversation_.connection_closed(connection_);
}

}  // namespace sandgate::mcp
