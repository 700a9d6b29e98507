#!/usr/bin/env bash
# Copies third-party protos from npm packages into this module, so buf needs no network registry.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(npm root)"
install -D "$root/grpc-health-check/proto/health/v1/health.proto" grpc/health/v1/health.proto
install -D "$root/google-proto-files/google/rpc/error_details.proto" google/rpc/error_details.proto
install -D "$root/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto" grpc/reflection/v1/reflection.proto
