// Package validationenv starts the envtest control plane with the operator's ReliabilityProfile validating
// webhook served in the test process. It is apart from internal/testenv because it imports the webhook, which
// imports render, whose own tests use testenv. Imported by tests only.
package validationenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
	"github.com/reliability-operator/reliability-operator/internal/validate"
	"github.com/reliability-operator/reliability-operator/internal/webhook"
)

// Start starts the control plane with every CRD and the shipped webhook configurations,
// and serves the operator's ReliabilityProfile validating handler (with the given render options) where
// they point, so that every profile a test writes goes through the real webhook as in a cluster. stop ends
// both.
func Start(opts render.Options) (env *envtest.Environment, cfg *rest.Config, stop func(), err error) {
	env, cfg, err = testenv.StartWithWebhooks()
	if err != nil {
		return nil, nil, nil, err
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		_ = env.Stop()
		return nil, nil, nil, err
	}
	wh := env.WebhookInstallOptions
	server := crwebhook.NewServer(crwebhook.Options{Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir})
	server.Register(webhook.ProfileValidationPath, &crwebhook.Admission{Handler: &webhook.ProfileValidation{
		Decoder: admission.NewDecoder(scheme), Render: opts, Now: Today}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Start(ctx) }()
	stop = func() {
		cancel()
		<-done
		_ = env.Stop()
	}
	for server.StartedChecker()(nil) != nil {
		select {
		case err := <-done:
			cancel()
			_ = env.Stop()
			return nil, nil, nil, fmt.Errorf("serving the validating webhook: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return env, cfg, stop, nil
}

var (
	offlineOnce sync.Once
	offline     *validate.Validator
	offlineErr  error
)

// Offline is the offline validator of the generated CRD, as `reliability-operator validate` compiles it;
// compiled once per test binary.
// Today is the date both the webhook and the offline validator review exceptions at: fixed, so that the
// corpus' dates (exceptions at most 183 days ahead, some already expired) keep their verdicts as time passes.
func Today() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }

func Offline() (*validate.Validator, error) {
	offlineOnce.Do(func() {
		var crd []byte
		if crd, offlineErr = os.ReadFile(filepath.Join(testenv.OwnCRDDir(), "reliability.dev_reliabilityprofiles.yaml")); offlineErr == nil {
			offline, offlineErr = validate.New(crd, v1alpha1.GroupVersion.Version)
		}
		if offline != nil {
			offline.Now = Today
		}
	})
	return offline, offlineErr
}
