"""How boto3 clients are set up: the CA bundle loaded once (net.aws_tls) and one shared, thread-safe
data loader (net.aws_models), against the sandbox's moto over HTTPS and botocore's own loader."""

from __future__ import annotations

import threading
from pathlib import Path

import botocore.exceptions
import botocore.loaders
import pytest

from filot_preflight.net import aws_tls
from filot_preflight.net.aws import AwsAccess, classify, make_client
from filot_preflight.net.aws_models import shared_loader
from filot_preflight.sandbox.certs import make_foreign_ca
from tests.fixtures_moto import MotoAws


def _access(moto_aws: MotoAws, ca: Path | None) -> AwsAccess:
    access = AwsAccess.from_options(moto_aws.options(ca_file=ca), moto_aws.values())
    return access


def test_clients_verify_against_one_preloaded_context(moto_aws: MotoAws) -> None:
    """Two clients (Secrets Manager, ECS) with the sandbox CA: requests succeed over new connections, each
    pool gets no bundle path to reload, and both share one context that holds the bundle."""
    clients = [make_client(s, _access(moto_aws, moto_aws.ca_file)).client for s in ("secretsmanager", "ecs")]
    assert clients[0].list_secrets(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert clients[1].list_clusters()["ResponseMetadata"]["HTTPStatusCode"] == 200
    contexts = set()
    for c in clients:
        http = c._endpoint.http_session
        assert type(http).__name__ == "PreloadedCaSession"
        ctx = http._manager.connection_pool_kw["ssl_context"]
        contexts.add(id(ctx))
        assert ctx.cert_store_stats()["x509_ca"] > 100  # certifi's CAs plus the sandbox CA
        container = http._manager.pools  # urllib3's RecentlyUsedContainer: keys(), not values()
        pools = [container[k] for k in container.keys()]  # noqa: SIM118 - not iterable itself
        assert pools and all(p.ca_certs is None and p.cert_reqs == "CERT_REQUIRED" for p in pools)
    assert len(contexts) == 1


def test_an_untrusted_server_is_still_refused(moto_aws: MotoAws, tmp_path: Path) -> None:
    """The preloaded context verifies as botocore would: a bundle without moto's CA fails the handshake."""
    other = make_foreign_ca(tmp_path)
    client = make_client("secretsmanager", _access(moto_aws, other.ca_pem)).client
    assert type(client._endpoint.http_session).__name__ == "PreloadedCaSession"
    with pytest.raises(botocore.exceptions.SSLError) as e:
        client.list_secrets(MaxResults=1)
    assert classify(e.value).kind == "tls"


def test_left_alone_without_verification_or_with_a_proxy(moto_aws: MotoAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """--insecure and a proxied endpoint keep botocore's own session (nothing to preload, or contexts of its own)."""
    insecure = make_client("secretsmanager", AwsAccess.from_options(moto_aws.options(insecure=True),
                                                                    moto_aws.values())).client
    assert type(insecure._endpoint.http_session).__name__ == "URLLib3Session"
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    proxied = make_client("secretsmanager", _access(moto_aws, moto_aws.ca_file)).client
    assert aws_tls.share_ca_bundle(proxied) is False
    assert type(proxied._endpoint.http_session).__name__ == "URLLib3Session"


def test_shared_loader_knows_the_same_services_as_botocore() -> None:
    """`in` looks at one service; the full list (iterated) is botocore's own."""
    ours, theirs = shared_loader(), botocore.loaders.Loader()
    names = ours.list_available_services("service-2")
    for service in ("secretsmanager", "ecs", "iam", "s3", "sts"):
        assert service in names
    for bogus in ("no-such-service", "", "..", "s3/../iam", "../botocore"):
        assert bogus not in names
    assert list(names) == theirs.list_available_services("service-2")
    assert len(names) == len(theirs.list_available_services("service-2"))
    with pytest.raises(botocore.exceptions.UnknownServiceError, match="secretsmanager"):
        ours.load_service_model("no-such-service", "service-2")


def test_shared_loader_parses_each_model_once_under_concurrency() -> None:
    """Eight threads asking for the same model at the same moment get the same object (parsed once)."""
    loader = shared_loader()
    got: list[object] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        got.append(loader.load_service_model("cloudwatch", "service-2"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(got) == 8 and len({id(m) for m in got}) == 1
