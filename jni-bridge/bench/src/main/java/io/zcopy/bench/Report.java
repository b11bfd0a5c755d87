package io.zcopy.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Prints JMH results (JSON, one file per JDK) as tables: per benchmark group, each row's time
 * per op and its ratio to the JDK baseline measured in the same run (ratio &lt; 1: faster than
 * the JDK), plus GiB/s for the whole-file transfers.
 *
 * <pre>java -cp zcopy-bench.jar io.zcopy.bench.Report jmh-17.json [jmh-25.json]</pre>
 */
public final class Report {
    private static final Map<String, String> BASELINE = Map.of(
            "TransferBench", "jdkTransferTo",
            "Small", "jdkTransferTo4KiB",
            "Read", "jdkMappedByteBufferGetLong",
            "MapClose", "jdkMapUnmappedByGc");

    public static void main(String[] args) throws Exception {
        for (String path : args) {
            File f = new File(path);
            if (!f.isFile()) {
                continue;
            }
            JsonNode runs = new ObjectMapper().readTree(f);
            if (runs.size() == 0) {
                continue;
            }
            System.out.println();
            System.out.println("## " + f.getName() + " (JDK " + runs.get(0).get("jdkVersion").asText() + ")");
            Map<String, Map<String, JsonNode>> groups = new TreeMap<>();
            for (JsonNode run : runs) {
                String[] parts = run.get("benchmark").asText().split("\\.");
                String method = parts[parts.length - 1];
                String cls = parts[parts.length - 2];
                cls = cls.substring(cls.lastIndexOf('$') + 1).replace("ArenaMapClose", "MapClose");
                StringBuilder key = new StringBuilder(cls);
                if (run.has("params")) {
                    run.get("params").fields().forEachRemaining(e -> key.append(' ').append(e.getKey()).append('=')
                            .append(e.getValue().asText()));
                }
                groups.computeIfAbsent(key.toString(), k -> new LinkedHashMap<>()).put(method, run);
            }
            for (Map.Entry<String, Map<String, JsonNode>> g : groups.entrySet()) {
                String cls = g.getKey().split(" ")[0];
                JsonNode base = g.getValue().get(BASELINE.get(cls));
                double baseScore = base == null ? Double.NaN : base.get("primaryMetric").get("score").asDouble();
                System.out.println();
                System.out.println("### " + g.getKey());
                System.out.printf("| %-30s | %14s | %-6s | %12s | %10s |%n", "benchmark", "time/op", "unit", "vs JDK", "GiB/s");
                System.out.printf("|%s|%s|%s|%s|%s|%n", "-".repeat(32), "-".repeat(16), "-".repeat(8), "-".repeat(14),
                        "-".repeat(12));
                for (Map.Entry<String, JsonNode> r : g.getValue().entrySet()) {
                    JsonNode m = r.getValue().get("primaryMetric");
                    double score = m.get("score").asDouble();
                    String unit = m.get("scoreUnit").asText();
                    String gib = "";
                    if (cls.equals("TransferBench") && unit.equals("ms/op")) {
                        long size = r.getValue().get("params").get("size").asLong();
                        gib = String.format("%.2f", size / (score / 1e3) / (1L << 30));
                    }
                    System.out.printf("| %-30s | %14.3f | %-6s | %12s | %10s |%n", r.getKey(), score, unit.replace("/op", ""),
                            Double.isNaN(baseScore) ? "" : String.format("%.2fx", score / baseScore), gib);
                }
            }
        }
    }
}
