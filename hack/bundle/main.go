// Command bundle writes the Operator Lifecycle Manager bundle (bundle/manifests, bundle/metadata and
// bundle.Dockerfile) from the kustomize tree in config/, so that OLM installs what `make deploy-spot-placement`
// installs, less what OLM provides itself (namespace, bindings, certificate) and the NetworkPolicies (see
// bundle/README.md).
//
//	go run ./hack/bundle -version 0.1.0 -image ghcr.io/reliability-operator/reliability-operator:v0.1.0 -out bundle
//
// It reads config/ directly rather than running kustomize: the bundle needs each object separately
// (the Deployment becomes the CSV's install strategy, the ClusterRole its clusterPermissions, the
// MutatingWebhookConfiguration its webhookdefinitions), not the flattened output of an overlay.
// The output is byte-identical for the same input: no timestamps, sorted keys. bundle_test.go
// regenerates it and fails when the committed bundle is stale.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var o options
	flag.StringVar(&o.Version, "version", "", "Bundle version (semver, no leading v); default: the VERSION file, or the tag of -image without its v when only -image is set.")
	flag.StringVar(&o.Image, "image", "", "Operator image the CSV deploys (the Makefile's IMG); default: "+imageRepository+":v<version>.")
	flag.StringVar(&o.Root, "root", ".", "Repository root holding config/ and README.md.")
	flag.StringVar(&o.Out, "out", "bundle", "Bundle directory; its manifests/ and metadata/ are rewritten, other files left alone.")
	flag.StringVar(&o.Dockerfile, "dockerfile", "bundle.Dockerfile", "Path of the bundle image's Dockerfile (built from the repository root); empty to skip.")
	flag.StringVar(&o.Channel, "channel", "alpha", "OLM channel of the bundle, also its default channel.")
	flag.Parse()
	err := o.complete()
	if err == nil {
		err = generate(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
	fmt.Printf("bundle: wrote %s for %s.v%s (%s)\n", o.Out, packageName, o.Version, o.Image)
}
