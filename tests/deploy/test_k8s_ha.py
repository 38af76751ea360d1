"""Issue 18's Kubernetes side: the prod overlay runs two replicas of everything with a disruption
budget and CPU autoscaling, and the optional backing kustomizations (deploy/k8s/backing) run a
3-node RabbitMQ cluster with quorum queues by default and a 3-instance CloudNativePG cluster with
one database and role per service.

The operators' own objects (RabbitmqCluster, Cluster, Database) are not validated against their
CRD schemas: no package in a registry ships those, so their top-level spec fields are checked
against the operators' API references below; the standard objects validate strictly as in
test_k8s.py. On a cluster with the operators: `kubectl apply --dry-run=server -k ...`.
"""

from __future__ import annotations

import subprocess
from functools import cache
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.support import APP_COMPONENTS, K8S, KUBECTL, SERVICES, find, kustomize, one
from tests.support.infra import ROOT

BACKING = ("rabbitmq-cluster", "cloudnative-pg")
NAMESPACE = "commerce-suite-data"
# Top-level `spec` fields of rabbitmq.com/v1beta1 RabbitmqCluster (cluster-operator 2.x) and of
# postgresql.cnpg.io/v1 Cluster and Database (CloudNativePG 1.25), from their API references.
SPEC_FIELDS = {
    "RabbitmqCluster": {"replicas", "image", "imagePullSecrets", "service", "persistence",
                        "resources", "affinity", "tolerations", "rabbitmq", "tls", "override",
                        "skipPostDeploySteps", "terminationGracePeriodSeconds",
                        "delayStartSeconds", "secretBackend"},
    "Cluster": {"instances", "imageName", "imageCatalogRef", "primaryUpdateStrategy",
                "primaryUpdateMethod", "minSyncReplicas", "maxSyncReplicas", "storage",
                "walStorage", "affinity", "resources", "postgresql", "managed", "bootstrap",
                "backup", "monitoring", "superuserSecret", "enableSuperuserAccess",
                "certificates", "description", "inheritedMetadata", "replica",
                "externalClusters", "topologySpreadConstraints", "priorityClassName"},
    "Database": {"cluster", "name", "owner", "ensure", "databaseReclaimPolicy", "template",
                 "encoding", "locale", "extensions", "schemas"},
}


@cache
def backing(name: str) -> list[dict[str, Any]]:
    done = subprocess.run([KUBECTL, "kustomize", str(K8S / "backing" / name)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def test_prod_runs_two_replicas_of_everything_with_a_budget_and_cpu_autoscaling() -> None:
    objects = kustomize("prod")
    for name in APP_COMPONENTS:
        hpa = one(objects, "HorizontalPodAutoscaler", name)["spec"]
        assert hpa["minReplicas"] == 2 < hpa["maxReplicas"], name
        assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"], name
        # With 2 replicas, maxUnavailable 1 is minAvailable 1 (test_k8s.py: never minAvailable).
        assert one(objects, "PodDisruptionBudget", name)["spec"]["maxUnavailable"] == 1, name


@pytest.mark.parametrize("name", BACKING)
def test_backing_renders_into_its_own_namespace_and_its_standard_objects_validate(
        name: str) -> None:
    objects = backing(name)
    assert one(objects, "Namespace", NAMESPACE)
    errors = []
    for obj in objects:
        if obj["kind"] in SPEC_FIELDS:
            unknown = set(obj["spec"]) - SPEC_FIELDS[obj["kind"]]
            assert not unknown, f"{obj['kind']}/{obj['metadata']['name']}: {unknown}"
        else:
            try:
                kubernetes_validate.validate(obj, "1.30.0", strict=True)
            except kubernetes_validate.ValidationError as error:
                errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]
    assert not errors, "\n".join(errors)


def test_the_broker_is_three_nodes_on_three_hosts_with_quorum_queues_by_default() -> None:
    (cluster,) = find(backing("rabbitmq-cluster"), "RabbitmqCluster")
    spec = cluster["spec"]
    assert spec["replicas"] == 3
    config = [line.strip() for line in spec["rabbitmq"]["additionalConfig"].splitlines()]
    assert "default_queue_type = quorum" in config
    (term,) = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": cluster["metadata"]["name"]}


def test_the_broker_is_provisioned_like_dev_with_the_operators_admin_user() -> None:
    job = one(backing("rabbitmq-cluster"), "Job", "rabbitmq-provision")["spec"]["template"]
    dev = one(kustomize("dev"), "Job", "rabbitmq-setup")["spec"]["template"]
    container, dev_container = job["spec"]["containers"][0], dev["spec"]["containers"][0]
    assert container["command"] == dev_container["command"]
    assert container["securityContext"] == dev_container["securityContext"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
            for e in container["env"] if "valueFrom" in e}
    assert refs == {"RABBITMQ_ADMIN_USER": "rabbitmq-default-user",
                    "RABBITMQ_ADMIN_PASSWORD": "rabbitmq-default-user"}


def test_postgres_is_three_synchronous_instances_with_a_database_and_role_per_service() -> None:
    objects = backing("cloudnative-pg")
    (cluster,) = find(objects, "Cluster")
    spec = cluster["spec"]
    assert spec["instances"] == 3 and spec["minSyncReplicas"] >= 1
    assert [role["name"] for role in spec["managed"]["roles"]] == list(SERVICES)
    databases = {d["spec"]["name"]: d["spec"] for d in find(objects, "Database")}
    assert set(databases) == set(SERVICES)
    for service, database in databases.items():
        assert database["owner"] == service
        assert database["cluster"] == {"name": cluster["metadata"]["name"]}


def test_the_docs_name_the_hosts_the_backing_objects_get() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    (broker,) = find(backing("rabbitmq-cluster"), "RabbitmqCluster")
    (database,) = find(backing("cloudnative-pg"), "Cluster")
    assert f"{broker['metadata']['name']}.{NAMESPACE}.svc:5672" in text
    assert f"{database['metadata']['name']}-rw.{NAMESPACE}.svc:5432" in text
