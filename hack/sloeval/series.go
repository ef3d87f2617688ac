package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"
)

// workload is the service whose series both rule sets read: one job's request counters by code and one
// classic latency histogram, on every instance. Every value is a pure function of the instance and the
// time since origin, so the backfilled history and the live exporter agree sample for sample and no counter
// ever resets between them.
type workload struct {
	Job, Namespace string
	Instances      int
	Origin         time.Time // where every counter is 0: the first backfilled sample
}

// codeShares are the response codes of every instance and their share of its requests; 500 and 503 are the
// availability SLO's errors (0.1%, its whole budget).
var codeShares = []struct {
	Code  string
	Share float64
}{{"200", 0.979}, {"404", 0.02}, {"500", 0.0007}, {"503", 0.0003}}

// bucketShares are the latency histogram's upper bounds and the share of requests within each: 99% within
// 0.3s, the latency SLO's objective exactly.
var bucketShares = []struct {
	LE    string
	Share float64
}{{"0.1", 0.8}, {"0.3", 0.99}, {"1", 0.999}, {"+Inf", 1}}

// meanLatencySeconds makes the histogram's _sum plausible; nothing reads it.
const meanLatencySeconds = 0.08

// requestsPerSecond differs by instance, so that the instances' series are not one series repeated.
func requestsPerSecond(instance int) float64 { return 1 + float64(instance%10)*0.5 }

func instanceName(i int) string { return fmt.Sprintf("api-%03d", i) }

// seriesCount is how many series the workload has: per instance one counter per code and the histogram's
// buckets, _sum and _count.
func (w workload) seriesCount() int { return w.Instances * (len(codeShares) + len(bucketShares) + 2) }

// requests is an instance's requests from origin to t.
func (w workload) requests(instance int, t time.Time) float64 {
	return requestsPerSecond(instance) * t.Sub(w.Origin).Seconds()
}

func (w workload) labels(instance int) string {
	return fmt.Sprintf(`job=%q,namespace=%q,instance=%q`, w.Job, w.Namespace, instanceName(instance))
}

// sample is one line of an exposition: name{labels} value, and " timestamp" in seconds when ts is set
// (OpenMetrics' unit; the text format's would be milliseconds, and the exporter sends none).
func sample(b []byte, name, labels string, v float64, ts *time.Time) []byte {
	b = append(b, name...)
	b = append(b, '{')
	b = append(b, labels...)
	b = append(b, "} "...)
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	if ts != nil {
		b = append(b, ' ')
		b = strconv.AppendInt(b, ts.Unix(), 10)
	}
	return append(b, '\n')
}

// counterLines are one instance's request counters at t.
func (w workload) counterLines(b []byte, instance int, t time.Time, ts *time.Time) []byte {
	n := w.requests(instance, t)
	for _, c := range codeShares {
		b = sample(b, "http_requests_total", w.labels(instance)+`,code="`+c.Code+`"`, n*c.Share, ts)
	}
	return b
}

// histogramLines are one instance's histogram at t: its buckets, then _count and _sum, as OpenMetrics
// wants the samples of one point together.
func (w workload) histogramLines(b []byte, instance int, t time.Time, ts *time.Time) []byte {
	n := w.requests(instance, t)
	for _, bucket := range bucketShares {
		b = sample(b, "http_request_duration_seconds_bucket", w.labels(instance)+`,le="`+bucket.LE+`"`, n*bucket.Share, ts)
	}
	b = sample(b, "http_request_duration_seconds_count", w.labels(instance), n, ts)
	return sample(b, "http_request_duration_seconds_sum", w.labels(instance), n*meanLatencySeconds, ts)
}

// Exposition is what the exporter serves at t, in the Prometheus text format, without timestamps: the
// scrape's time is the sample's.
func (w workload) Exposition(t time.Time) []byte {
	b := []byte("# TYPE http_requests_total counter\n")
	for i := 0; i < w.Instances; i++ {
		b = w.counterLines(b, i, t, nil)
	}
	b = append(b, "# TYPE http_request_duration_seconds histogram\n"...)
	for i := 0; i < w.Instances; i++ {
		b = w.histogramLines(b, i, t, nil)
	}
	return b
}

// WriteOpenMetrics writes the history from origin until (not including) end, one sample per series every
// step, for `promtool tsdb create-blocks-from openmetrics`: each family's series together, each series' (or
// histogram point's) samples in time order, then # EOF.
func (w workload) WriteOpenMetrics(out io.Writer, end time.Time, step time.Duration) error {
	bw := bufio.NewWriterSize(out, 1<<20)
	b := make([]byte, 0, 4096)
	times := func(each func(t time.Time)) {
		for t := w.Origin; t.Before(end); t = t.Add(step) {
			each(t)
		}
	}
	flush := func() error {
		_, err := bw.Write(b)
		b = b[:0]
		return err
	}
	if _, err := bw.WriteString("# TYPE http_requests counter\n"); err != nil {
		return err
	}
	for i := 0; i < w.Instances; i++ {
		for _, c := range codeShares {
			labels := w.labels(i) + `,code="` + c.Code + `"`
			var err error
			times(func(t time.Time) {
				if err != nil {
					return
				}
				b = sample(b, "http_requests_total", labels, w.requests(i, t)*c.Share, &t)
				if len(b) > 1<<16 {
					err = flush()
				}
			})
			if err != nil {
				return err
			}
		}
	}
	if _, err := bw.WriteString("# TYPE http_request_duration_seconds histogram\n"); err != nil {
		return err
	}
	for i := 0; i < w.Instances; i++ {
		var err error
		times(func(t time.Time) {
			if err != nil {
				return
			}
			b = w.histogramLines(b, i, t, &t)
			if len(b) > 1<<16 {
				err = flush()
			}
		})
		if err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if _, err := bw.WriteString("# EOF\n"); err != nil {
		return err
	}
	return bw.Flush()
}
