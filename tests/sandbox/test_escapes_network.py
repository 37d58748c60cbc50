"""Network escapes: a call has no network. Sockets other than AF_UNIX are refused (an errno, so
the tool raises) or kill the call; where a packet could land, the host listens for it."""

from __future__ import annotations

import socket

import pytest

from .harness import Gateway, expect, syscall

SOCKET_REFUSED = {"tool_error": {"PermissionError", "OSError"}, "seccomp": syscall("socket")}
NOTHING_ARRIVES_S = 0.3


def test_tcp_connect_reaches_no_host_listener(gateway: Gateway) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        outcome = gateway.attack("outbound_tcp", host="127.0.0.1", port=listener.getsockname()[1])
        expect(outcome, SOCKET_REFUSED)
        listener.settimeout(NOTHING_ARRIVES_S)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_tcp_connect_to_the_internet_is_refused(gateway: Gateway) -> None:
    expect(gateway.attack("outbound_tcp", host="1.1.1.1", port=53), SOCKET_REFUSED)


def test_udp_datagram_reaches_no_host_socket(gateway: Gateway, token: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        outcome = gateway.attack("outbound_udp", host="127.0.0.1", port=receiver.getsockname()[1],
                                 payload=token)
        expect(outcome, SOCKET_REFUSED)
        receiver.settimeout(NOTHING_ARRIVES_S)
        with pytest.raises(TimeoutError):
            receiver.recvfrom(4096)


def test_dns_lookup_fails(gateway: Gateway) -> None:
    outcome = gateway.attack("dns_lookup", name="example.com")
    expect(outcome, {"tool_error": {"gaierror", "PermissionError", "OSError"}, "seccomp": syscall("socket")})


@pytest.mark.parametrize("tool", ["raw_socket", "netlink_socket", "packet_socket"])
def test_privileged_socket_families_are_refused(gateway: Gateway, tool: str) -> None:
    expect(gateway.attack(tool), SOCKET_REFUSED)
