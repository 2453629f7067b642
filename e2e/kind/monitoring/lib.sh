# shellcheck shell=bash
# Helpers shared by the monitoring scripts; sourced after versions.sh.
# ensure_debs and sha256_hex: the project's one copy.
# shellcheck source=scripts/lib/host.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib/host.sh"
