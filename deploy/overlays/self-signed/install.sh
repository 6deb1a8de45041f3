#!/bin/sh
# Installs tmm-webhook with certificates made by `tmm-webhook certs` (no cert-manager needed).
#
#   deploy/overlays/self-signed/install.sh [kubectl apply flags...]
#
# Makes a CA and a serving certificate for tmm-webhook.tmm-system.svc into certs/ beside this script
# (git-ignored; kept, so running it again reinstalls the same certificate), then applies the overlay,
# which puts them into Secret tmm-webhook-tls and the CA into the webhook's caBundle.
#
# Environment:
#   TMM_WEBHOOK  how to run the tmm-webhook binary (default: tmm-webhook on PATH), for instance
#                "swift run -c release tmm-webhook" from the repository root, or
#                "docker run --rm -u $(id -u) -v $PWD/deploy/overlays/self-signed/certs:/certs IMAGE"
#                together with TMM_CERTS_OUT=/certs
#   TMM_CERTS_OUT  the --out directory as the binary sees it (default: the certs/ directory here)
#   RENEW=1      make new certificates even if certs/ already holds some
#   TMM_OVERLAY  the kustomization to apply (default: this directory), e.g. one that adds the vSphere
#                component to this overlay (deploy/README.md, "Combining")
#   KUBECTL      kubectl to use (default: kubectl)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
certs="$here/certs"
tmm_webhook=${TMM_WEBHOOK:-tmm-webhook}
out=${TMM_CERTS_OUT:-$certs}
kubectl=${KUBECTL:-kubectl}

if [ "${RENEW:-0}" = 1 ] || [ ! -s "$certs/tls.crt" ] || [ ! -s "$certs/tls.key" ] || [ ! -s "$certs/ca.crt" ]; then
    mkdir -p "$certs"
    # $tmm_webhook is split into words on purpose, so it can be a command with arguments.
    # shellcheck disable=SC2086
    $tmm_webhook certs --out "$out" \
        --dns tmm-webhook.tmm-system.svc \
        --dns tmm-webhook.tmm-system.svc.cluster.local >/dev/null
    for f in ca.crt tls.crt tls.key; do
        if [ ! -s "$certs/$f" ]; then
            echo "install.sh: '$tmm_webhook certs' did not write $certs/$f" >&2
            exit 1
        fi
    done
    echo "install.sh: wrote ca.crt, tls.crt and tls.key to $certs"
fi

exec $kubectl apply -k "${TMM_OVERLAY:-$here}" "$@"
