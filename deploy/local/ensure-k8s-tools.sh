#!/usr/bin/env bash
# The chart's checkers, pinned and cached (idempotent, like ensure-uv.sh):
#   helm         helm.sh/helm/v4/cmd/helm, built from the Go module proxy
#   kubeconform  github.com/yannh/kubeconform/cmd/kubeconform, built the same way
#   schemas      Kubernetes JSON schemas for kubeconform: kubeconform cannot download them here,
#                so they come from the kubernetes-validate wheel on PyPI (pinned by hash) and are
#                made standalone by deploy/helm/standalone_schemas.py
#
#   deploy/local/ensure-k8s-tools.sh           install what is missing, print where things are
#   deploy/local/ensure-k8s-tools.sh --check   install nothing; fail (exit 1) if anything is missing
#
# Output (stdout), one `name=value` a line: helm=…, kubeconform=…, schema_location=…,
# kubernetes_version=…. Progress goes to stderr.
set -euo pipefail

HELM_VERSION=v4.3.2
KUBECONFORM_VERSION=v0.8.0
# The Kubernetes release the manifests are validated against, and the wheel that carries its schemas.
KUBERNETES_VERSION=1.34.0
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBERNETES_VALIDATE_SHA256=85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE_DIR="${KCC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/contact-stad}"
helm_dir="$CACHE_DIR/helm-$HELM_VERSION"
kubeconform_dir="$CACHE_DIR/kubeconform-$KUBECONFORM_VERSION"
schemas_dir="$CACHE_DIR/k8s-schemas-$KUBERNETES_VALIDATE_VERSION"
# kubeconform fills in the version and the kind; -strict selects the "-strict" directory.
schema_location="$schemas_dir/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"
schemas_ready="$schemas_dir/v$KUBERNETES_VERSION-standalone-strict/.complete"

check_only=false
[ "${1:-}" = "--check" ] && check_only=true

missing=()
[ -x "$helm_dir/helm" ] || missing+=("helm $HELM_VERSION")
[ -x "$kubeconform_dir/kubeconform" ] || missing+=("kubeconform $KUBECONFORM_VERSION")
[ -f "$schemas_ready" ] || missing+=("Kubernetes $KUBERNETES_VERSION schemas")

if [ ${#missing[@]} -gt 0 ]; then
  if $check_only; then
    echo "[k8s-tools] missing in $CACHE_DIR: ${missing[*]} (run: make install)" >&2
    exit 1
  fi
  command -v go >/dev/null || { echo "[k8s-tools] needs Go (1.26 or newer) to build helm and kubeconform" >&2; exit 1; }
  # One installer at a time (two `make install`s at once would build into the same directories).
  mkdir -p "$CACHE_DIR"
  exec 9>"$CACHE_DIR/.k8s-tools.lock"
  flock 9
  # Static, stripped binaries; the build and module caches are Go's own (GOCACHE, GOMODCACHE).
  export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath"
  build() {  # build <dir> <package@version> [ldflags]
    local dir=$1 pkg=$2 ldflags=${3:-}
    echo "[k8s-tools] building $pkg into $dir" >&2
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    GOBIN="$dir.tmp" go install -ldflags "-s -w $ldflags" "$pkg" >&2
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  }
  [ -x "$helm_dir/helm" ] || build "$helm_dir" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" \
    "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
  [ -x "$kubeconform_dir/kubeconform" ] || build "$kubeconform_dir" \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" "-X main.version=$KUBECONFORM_VERSION"
  if [ ! -f "$schemas_ready" ]; then
    echo "[k8s-tools] Kubernetes $KUBERNETES_VERSION schemas from kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $schemas_dir" >&2
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    echo "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION --hash=sha256:$KUBERNETES_VALIDATE_SHA256" > "$work/requirements.txt"
    # A throwaway venv for its pip, as ensure-uv.sh does: the system Python may have none.
    python3.11 -m venv "$work/venv" >&2
    "$work/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --require-hashes -r "$work/requirements.txt" -d "$work" >&2
    python3.11 "$REPO/deploy/helm/standalone_schemas.py" \
      --wheel "$work"/kubernetes_validate-"$KUBERNETES_VALIDATE_VERSION"-*.whl \
      --kubernetes-version "$KUBERNETES_VERSION" --out "$schemas_dir" >&2
  fi
fi

echo "helm=$helm_dir/helm"
echo "kubeconform=$kubeconform_dir/kubeconform"
echo "schema_location=$schema_location"
echo "kubernetes_version=$KUBERNETES_VERSION"
