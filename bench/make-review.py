#!/usr/bin/env python3
"""Prints an AdmissionReview for a Node UPDATE that changes a label and no maintenance taint (the allow
path), with a node shaped like a busy kubelet's: labels, conditions, 40 images, addresses (~20 KB)."""
import json


def node(label_value):
    labels = {f"team-{i}.example.com/role": f"value-{i}" for i in range(24)}
    labels.update({"kubernetes.io/hostname": "worker-7", "kubernetes.io/os": "linux",
                   "topology.kubernetes.io/zone": "zone-b", "example.com/rev": label_value})
    conditions = [
        {"type": kind, "status": status, "reason": "Kubelet" + kind, "message": f"kubelet reports {kind} {status}",
         "lastHeartbeatTime": "2026-11-25T10:00:00Z", "lastTransitionTime": "2026-11-01T10:00:00Z"}
        for kind, status in [("MemoryPressure", "False"), ("DiskPressure", "False"), ("PIDPressure", "False"), ("Ready", "True")]
    ]
    images = [{"names": [f"registry.example.com/apps/service-{i}@sha256:{i:064x}",
                         f"registry.example.com/apps/service-{i}:2.{i}.1"], "sizeBytes": 50_000_000 + 4096 * i}
              for i in range(40)]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "worker-7", "uid": "5f0c2a4e-7d1b-4c55-9a38-2b7e8d1f0a61", "resourceVersion": "884211",
                     "creationTimestamp": "2026-10-01T08:00:00Z", "labels": labels,
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"podCIDR": "10.244.7.0/24", "podCIDRs": ["10.244.7.0/24"],
                 "taints": [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]},
        "status": {"capacity": {"cpu": "32", "memory": "131915776Ki", "pods": "110", "ephemeral-storage": "209611Mi"},
                   "allocatable": {"cpu": "31750m", "memory": "129715776Ki", "pods": "110", "ephemeral-storage": "193179Mi"},
                   "conditions": conditions,
                   "addresses": [{"type": "InternalIP", "address": "192.0.2.17"}, {"type": "Hostname", "address": "worker-7"}],
                   "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                   "nodeInfo": {"kubeletVersion": "v1.31.2", "containerRuntimeVersion": "containerd://1.7.22",
                                "kernelVersion": "6.1.0-27-amd64", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                "architecture": "amd64", "operatingSystem": "linux"},
                   "images": images}}


review = {
    "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
    "request": {
        "uid": "00000000-0000-0000-0000-000000000000",
        "kind": {"group": "", "version": "v1", "kind": "Node"},
        "resource": {"group": "", "version": "v1", "resource": "nodes"},
        "requestKind": {"group": "", "version": "v1", "kind": "Node"},
        "requestResource": {"group": "", "version": "v1", "resource": "nodes"},
        "name": "worker-7", "operation": "UPDATE",
        "userInfo": {"username": "admin", "groups": ["system:masters", "system:authenticated"]},
        "object": node("b"), "oldObject": node("a"), "dryRun": False,
        "options": {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"},
    },
}
print(json.dumps(review, separators=(",", ":")))
