# Pinned versions of everything the bootstrap provisions. One place; the cache is keyed by these.
# Why these numbers: docs/adr/001-engine.md.
PULUMI_VERSION=3.274.1      # CLI + engine, built from github.com/pulumi/pulumi/pkg/v3 (served by the Go proxy)
LANGHOST_SDK_VERSION=3.68.0 # last sdk/v3 release that still held the Node.js language host as a package
NODE_VERSION=22.23.3        # @pulumi/pulumi >= 3.250 declares node >= 22; provisioned from the npm registry
