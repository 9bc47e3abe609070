"""The webhook receiver policy (SSRF): which addresses and URLs may receive webhooks."""

from __future__ import annotations

import pytest

from chalicelib.domain.webhook_addresses import (
    ReceiverPolicy,
    address_allowed,
    ip_address_of,
    url_problem,
)

DEPLOYED = ReceiverPolicy(local_receivers=False)
LOCAL = ReceiverPolicy(local_receivers=True)

REFUSED_ADDRESSES = [
    "127.0.0.1",  # loopback
    "127.8.9.10",
    "::1",
    "10.1.2.3",  # private
    "172.16.0.1",
    "192.168.1.1",
    "fc00::1",  # unique local
    "169.254.169.254",  # link-local: the instance metadata service
    "fe80::1",
    "224.0.0.1",  # multicast
    "224.0.1.1",
    "ff02::1",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "0.0.0.0",  # unspecified
    "::",
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "100.127.255.254",
    "192.0.2.10",  # documentation
    "::ffff:127.0.0.1",  # IPv4-mapped IPv6
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
]

PUBLIC_ADDRESSES = ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not address_allowed(ip_address_of(address), DEPLOYED)


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_allowed(ip_address_of(address), DEPLOYED)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_local_receivers_may_use_loopback(address: str) -> None:
    assert address_allowed(ip_address_of(address), LOCAL)


@pytest.mark.parametrize("address", ["10.1.2.3", "169.254.169.254", "0.0.0.0", "100.64.0.1"])
def test_local_receivers_allow_nothing_else(address: str) -> None:
    assert not address_allowed(ip_address_of(address), LOCAL)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.example.com/crm", "must use https"),
        ("ftp://hooks.example.com/crm", "must use https"),
        ("https://user:pw@hooks.example.com/crm", "must not contain a user name or password"),
        ("https://user@hooks.example.com/crm", "must not contain a user name or password"),
        ("https://127.0.0.1/crm", "must be a public address"),
        ("https://10.0.0.8:8443/crm", "must be a public address"),
        ("https://[::ffff:169.254.169.254]/crm", "must be a public address"),
        ("https://169.254.169.254/latest/meta-data", "must be a public address"),
        ("https://localhost/crm", "must be a public host name"),
        ("https://api.localhost/crm", "must be a public host name"),
        ("https://intranet/crm", "must be a public host name"),
        ("https:///crm", "must name a host"),
        ("https://hooks.example.com:99999/crm", "must be a valid URL"),
    ],
)
def test_urls_refused_when_saved(url: str, problem: str) -> None:
    assert url_problem(url, DEPLOYED) == problem


def test_a_public_https_url_is_accepted() -> None:
    assert url_problem("https://hooks.example.com:8443/crm?x=1", DEPLOYED) is None


def test_local_receivers_accept_http_on_loopback_only() -> None:
    assert url_problem("http://127.0.0.1:9000/hook", LOCAL) is None
    assert url_problem("http://localhost:9000/hook", LOCAL) is None
    assert url_problem("http://10.0.0.1/hook", LOCAL) == "must be a public address"
