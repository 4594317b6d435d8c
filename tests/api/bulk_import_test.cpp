// Bulk import (Bundles and NDJSON through the API) and the round trip export -> import.
#include "api/bulk_import.hpp"
#include "api/bulk_export.hpp"
#include "api_fixture.hpp"
#include "core/time.hpp"
#include "demo/demo.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <map>
#include <sstream>

#include <zlib.h>

namespace ucr::api::testing {
namespace {

class BulkImportTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    files_ = dir_ / "input";
    std::filesystem::create_directories(files_);
  }

  std::filesystem::path write(const std::string& name, const std::string& text) {
    auto p = files_ / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
    return p;
  }

  ImportSummary import(const std::vector<std::filesystem::path>& files, std::size_t batch = 500) {
    ImportOptions o;
    o.batch = batch;
    Importer importer(*store_, api_options(), o);
    auto s = importer.run(files);
    EXPECT_TRUE(s) << (s ? "" : s.error().message());
    return s ? *s : ImportSummary{};
  }

  std::string family_of(const std::string& id) {
    return str(body_of(call("GET", "/fhir/Patient/" + id)), {"name", "0", "family"});
  }

  /// Writes `text` gzip-compressed.
  std::filesystem::path write_gz(const std::string& name, const std::string& text) {
    auto p = files_ / name;
    gzFile gz = gzopen(p.c_str(), "wb");
    EXPECT_NE(gz, nullptr);
    if (gz == nullptr) return p;
    EXPECT_EQ(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
    gzclose(gz);
    return p;
  }

  /// Every resource of an export directory by Type/id, without meta.versionId and meta.lastUpdated
  /// (an importing store numbers and stamps its own versions), reading .ndjson and .ndjson.gz.
  static std::map<std::string, json::object> read_export(const std::filesystem::path& d) {
    std::map<std::string, json::object> out;
    for (const auto& e : std::filesystem::directory_iterator(d)) {
      if (e.path().filename() == "manifest.json" || is_export_error_file(e.path().filename().string())) continue;
      std::string text;
      if (e.path().extension() == ".gz") {
        gzFile gz = gzopen(e.path().c_str(), "rb");
        std::array<char, 4096> buf{};
        int n = 0;
        while (gz != nullptr && (n = gzread(gz, buf.data(), buf.size())) > 0) text.append(buf.data(), n);
        if (gz != nullptr) gzclose(gz);
      } else {
        std::ifstream in(e.path());
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
      }
      std::istringstream lines(text);
      std::string line;
      while (std::getline(lines, line)) {
        auto o = json::parse(line).as_object();
        auto& meta = o["meta"].as_object();
        meta.erase("versionId");
        meta.erase("lastUpdated");
        if (meta.empty()) o.erase("meta");
        out[str(o, {"resourceType"}) + "/" + str(o, {"id"})] = std::move(o);
      }
    }
    return out;
  }

  std::filesystem::path files_;
};

TEST_F(BulkImportTest, NdjsonIsStoredUnderItsIdsAndBadLinesAreReportedByLine) {
  const auto f =
      write("patients.ndjson", patient("p1", "One") + "\n" + "{not json\n" + patient("p2", "Two") + "\n" +
                                   R"({"resourceType":"Patient","id":"p3","gender":"sometimes"})" + "\n" + "\n" +
                                   R"({"resourceType":"Nonsense"})" + "\n" + patient({}, "NoId") + "\n");
  const std::size_t before = version_count();
  const auto s = import({f});
  EXPECT_EQ(s.created, 3U);
  EXPECT_EQ(s.updated, 0U);
  EXPECT_EQ(s.rejected, 3U);
  ASSERT_EQ(s.rejections.size(), 3U);
  EXPECT_EQ(s.rejections[0].where, f.string() + ":2");
  EXPECT_NE(s.rejections[0].reason.find("not valid JSON"), std::string::npos);
  // In file order, whether a line was refused as it was read or when its batch was written.
  EXPECT_EQ(s.rejections[1].where, f.string() + ":4");
  EXPECT_NE(s.rejections[1].reason.find("gender"), std::string::npos) << s.rejections[1].reason;
  EXPECT_EQ(s.rejections[2].where, f.string() + ":6");
  EXPECT_EQ(version_count(), before + 3);
  EXPECT_EQ(family_of("p1"), "One");
  EXPECT_EQ(family_of("p2"), "Two");
  EXPECT_EQ(call("GET", "/fhir/Patient/p3").status, 404);
  // Imported data is searchable like data written over HTTP.
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient?family=noid&_total=accurate")), {"total"}), "1");
}

TEST_F(BulkImportTest, TheSameResourceTwiceInAFileIsStoredInLineOrder) {
  const auto f = write("twice.ndjson",
                       patient("t1", "First") + "\n" + patient("t2", "Other") + "\n" + patient("t1", "Second") + "\n");
  const auto s = import({f});
  EXPECT_EQ(s.created, 2U);
  EXPECT_EQ(s.updated, 1U);
  EXPECT_TRUE(s.rejections.empty());
  EXPECT_EQ(family_of("t1"), "Second");
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient/t1")), {"meta", "versionId"}), "2");
}

TEST_F(BulkImportTest, OneFilesBatchesOverlapYetCommitInFileOrder) {
  // One resource in every batch, changed each time: the versions must be stored in line order
  // although the next batch is prepared while the one before it is written.
  std::string text;
  for (int i = 0; i < 60; ++i)
    text += patient("v", fmt::format("F{}", i)) + "\n" + patient(fmt::format("o{}", i)) + "\n";
  const auto f = write("versions.ndjson", text);
  const auto s = import({f}, 2);
  EXPECT_EQ(s.created, 61U);
  EXPECT_EQ(s.updated, 59U);
  EXPECT_TRUE(s.rejections.empty());
  EXPECT_EQ(family_of("v"), "F59");
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient/v")), {"meta", "versionId"}), "60");
  const auto mark = store_->get_meta(store_->list_meta("import:", "", 10)->front().first);
  ASSERT_TRUE(mark && mark->has_value());
  EXPECT_NE((*mark)->find(R"("line":120)"), std::string::npos) << **mark;
}

TEST_F(BulkImportTest, RecordLinkageAcrossBatchesDecidesAsIfTheyWereSentOneAfterAnother) {
  // Each person's record and, on the next line, a copy from another system without the NHS
  // number: with a batch of one line, the copy is matched while the record is still being
  // written, and must be matched again once it is.
  const std::array<const char*, 10> nhs{"9000000009", "9449306060", "9434765919", "9434765870", "9000000017",
                                        "9000000025", "9000000033", "9000000041", "9000000068", "9000000076"};
  const std::array<const char*, 10> families{"Hartley",   "Okafor", "Nowak", "Fairweather", "Lindqvist",
                                             "Pemberton", "Achebe", "Szabo", "Ravenscroft", "Iqbal"};
  std::string text;
  for (std::size_t i = 0; i < nhs.size(); ++i) {
    json::object p{
        {"resourceType", "Patient"},
        {"name", json::array{json::object{{"family", families[i]}, {"given", json::array{"Alex"}}}}},
        {"gender", "female"},
        {"birthDate", fmt::format("19{}-0{}-1{}", 50 + i, 1 + i % 9, i)},
        {"address", json::array{json::object{{"postalCode", fmt::format("ME{} 5AB", 10 + i)}}}},
        {"identifier", json::array{json::object{{"system", "https://fhir.nhs.uk/Id/nhs-number"}, {"value", nhs[i]}}}}};
    text += json::serialize(p) + "\n";
    p["identifier"] =
        json::array{json::object{{"system", "https://mtw.example/mrn"}, {"value", fmt::format("K{}", i)}}};
    text += json::serialize(p) + "\n";
  }
  const auto f = write("arrivals.ndjson", text);
  ImportOptions o;
  o.batch = 1;
  Importer importer(*store_, ApiOptions{}, o);  // record linkage on
  auto s = importer.run({f});
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->created, 20U);
  const auto all = body_of(call("GET", "/fhir/Patient?_count=100"));
  std::size_t linked = 0;
  for (const auto& e : all.at("entry").as_array()) {
    if (e.at("resource").as_object().contains("link")) ++linked;
  }
  EXPECT_EQ(linked, nhs.size()) << "every copy is linked to the record on the line before it";
  EXPECT_EQ(body_of(call("GET", "/fhir/Task?_summary=count")).at("total").as_int64(), 0) << "none left to review";
}

TEST_F(BulkImportTest, ManyBadLinesInOneBatchAreEachReported) {
  std::string text;
  for (int i = 0; i < 30; ++i) {
    text += i % 3 == 0 ? R"({"resourceType":"Patient","id":"bad)" + std::to_string(i) + R"(","birthDate":"never"})"
                       : patient("ok" + std::to_string(i), "F" + std::to_string(i));
    text += "\n";
  }
  const auto f = write("mixed.ndjson", text);
  const auto s = import({f}, 100);
  EXPECT_EQ(s.created, 20U);
  EXPECT_EQ(s.rejected, 10U);
  for (const auto& r : s.rejections) EXPECT_NE(r.reason.find("birthDate"), std::string::npos) << r.reason;
  EXPECT_EQ(call("GET", "/fhir/Patient/bad0").status, 404);
  EXPECT_EQ(call("GET", "/fhir/Patient/ok1").status, 200);
}

TEST_F(BulkImportTest, ABundleWithOneBadEntryWritesNothing) {
  const auto f = write("bundle.json", R"({"resourceType":"Bundle","type":"collection","entry":[
      {"resource":{"resourceType":"Patient","id":"c1","name":[{"family":"Fine"}]}},
      {"resource":{"resourceType":"Observation","id":"o1","status":"not-a-status","code":{"text":"x"}}}]})");
  const std::size_t before = version_count();
  const auto s = import({f});
  EXPECT_EQ(s.created, 0U);
  EXPECT_EQ(s.rejected, 2U);
  ASSERT_EQ(s.rejections.size(), 1U);
  EXPECT_EQ(s.rejections[0].where, f.string());
  EXPECT_NE(s.rejections[0].reason.find("Bundle.entry[1]"), std::string::npos) << s.rejections[0].reason;
  EXPECT_EQ(version_count(), before);
  // Files that are not FHIR JSON are reported too.
  const auto s2 = import({write("broken.json", "{"), write("array.json", "[]")});
  EXPECT_EQ(s2.rejections.size(), 2U);
  EXPECT_EQ(version_count(), before);
}

TEST_F(BulkImportTest, AuditEventsAreNeverImported) {
  const std::string event =
      R"({"resourceType":"AuditEvent","id":"a1","type":{"code":"rest"},"recorded":"2024-01-01T00:00:00Z","agent":[{"requestor":true}],"source":{"observer":{"display":"x"}}})";
  const auto s = import(
      {write("audit.ndjson", event + "\n"),
       write("audit.json", R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":)" + event + "}]}")});
  EXPECT_EQ(s.created, 0U);
  ASSERT_EQ(s.rejections.size(), 2U);
  for (const auto& r : s.rejections) EXPECT_NE(r.reason.find("audit trail"), std::string::npos) << r.reason;
  EXPECT_EQ(version_count(), 0U);
}

TEST_F(BulkImportTest, SyntheaBundlesResolveUuidAndConditionalReferences) {
  auto files = Importer::list_files(std::filesystem::path(UCR_TEST_DATA_DIR) / "bulk" / "synthea");
  ASSERT_TRUE(files);
  ASSERT_EQ(files->size(), 3U);
  // The shared organisations and practitioners come first.
  EXPECT_TRUE(files->at(0).filename().string().starts_with("hospitalInformation"));
  EXPECT_TRUE(files->at(1).filename().string().starts_with("practitionerInformation"));
  const auto s = import(*files);
  EXPECT_TRUE(s.rejections.empty()) << s.rejections.front().reason;
  EXPECT_EQ(s.created, 7U);
  auto enc = body_of(call("GET", "/fhir/Encounter?_count=1"));
  const auto& e = enc.at("entry").as_array().at(0).as_object().at("resource");
  const std::string org = str(e, {"serviceProvider", "reference"});
  ASSERT_TRUE(org.starts_with("Organization/")) << org;
  EXPECT_EQ(call("GET", "/fhir/" + org).status, 200);
  const std::string subject = str(e, {"subject", "reference"});
  ASSERT_TRUE(subject.starts_with("Patient/")) << subject;
  EXPECT_EQ(str(body_of(call("GET", "/fhir/" + subject)), {"name", "0", "family"}), "Examplefield");
  EXPECT_TRUE(str(e, {"participant", "0", "individual", "reference"}).starts_with("Practitioner/"));
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Observation?" + std::string("subject=") + subject + "&_total=accurate")),
                {"total"}),
            "1");
}

TEST_F(BulkImportTest, FilesAreImportedOnSeveralThreadsWithOneSummaryAndSteadyProgress) {
  std::vector<std::filesystem::path> files;
  for (int f = 0; f < 12; ++f) {
    std::string text;
    for (int i = 0; i < 25; ++i) text += patient(fmt::format("f{}-{}", f, i), fmt::format("Family{}", i)) + "\n";
    if (f % 4 == 1) text += "{broken\n";  // line 26 of files 1, 5 and 9
    files.push_back(write(fmt::format("part-{:02}.ndjson", f), text));
  }
  std::vector<ImportProgress> seen;
  ImportOptions o;
  o.batch = 7;
  o.threads = 4;
  o.progress = [&](const ImportProgress& p) { seen.push_back(p); };
  Importer importer(*store_, api_options(), o);
  auto s = importer.run(files);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->files, 12U);
  EXPECT_EQ(s->created, 300U);
  EXPECT_EQ(s->rejected, 3U);
  // Rejections are listed in file order, whichever thread read the file.
  ASSERT_EQ(s->rejections.size(), 3U);
  EXPECT_NE(s->rejections[0].where.find("part-01.ndjson:26"), std::string::npos) << s->rejections[0].where;
  EXPECT_NE(s->rejections[1].where.find("part-05.ndjson:26"), std::string::npos) << s->rejections[1].where;
  EXPECT_NE(s->rejections[2].where.find("part-09.ndjson:26"), std::string::npos) << s->rejections[2].where;
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient?_summary=count")), {"total"}), "300");
  EXPECT_EQ(family_of("f11-24"), "Family24");
  // Progress only moves forward and ends with everything counted.
  ASSERT_FALSE(seen.empty());
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(seen[i].bytes_done, seen[i - 1].bytes_done);
    EXPECT_GE(seen[i].resources, seen[i - 1].resources);
    EXPECT_GE(seen[i].files_done, seen[i - 1].files_done);
  }
  EXPECT_EQ(seen.back().files_done, 12U);
  EXPECT_EQ(seen.back().resources, 300U);
  EXPECT_EQ(seen.back().rejected, 3U);
  EXPECT_EQ(seen.back().bytes_done, seen.back().bytes_total);
  // Every file is recorded as done, so a second run skips them all.
  auto again = import(files);
  EXPECT_EQ(again.files_skipped, 12U);
  EXPECT_EQ(again.created + again.updated, 0U);
}

TEST_F(BulkImportTest, AnIncrementalExportWithDeletionsKeepsACopyInStep) {
  // The source: three Patients, exported in full; then one updated, one deleted, one added, and
  // exported again since the first export. Importing both into the copy makes it the same.
  const auto write_all = [&](const std::string& to, std::optional<core::Micros> since) {
    ExportSpec spec;
    spec.level = ExportLevel::system;
    spec.types = {"Patient"};
    spec.since = since;
    ExportRun run;
    run.transaction_time = export_transaction_time();
    EXPECT_TRUE(settle_writes(*store_, run.transaction_time));
    run.directory = dir_ / to;
    auto r = write_export(*store_, spec, run);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return run.transaction_time;
  };
  ASSERT_EQ(call("PUT", "/fhir/Patient/k1", patient("k1", "Kept")).status, 201);
  ASSERT_EQ(call("PUT", "/fhir/Patient/k2", patient("k2", "Changed")).status, 201);
  ASSERT_EQ(call("PUT", "/fhir/Patient/k3", patient("k3", "Removed")).status, 201);
  const core::Micros first = write_all("full", std::nullopt);
  ASSERT_EQ(call("PUT", "/fhir/Patient/k2", patient("k2", "Changed again")).status, 200);
  ASSERT_EQ(call("DELETE", "/fhir/Patient/k3").status, 204);
  ASSERT_EQ(call("PUT", "/fhir/Patient/k4", patient("k4", "Added")).status, 201);
  write_all("increment", first + 1);
  ASSERT_TRUE(std::filesystem::exists(dir_ / "increment" / "deleted-1.ndjson"));

  // The copy: a store of its own.
  store::SqliteOptions copy_options;
  copy_options.directory = dir_ / "copy";
  auto copy = store::open_sqlite_store(copy_options);
  ASSERT_TRUE(copy) << copy.error().message();
  const auto import_into = [&](const std::string& from) {
    Importer importer(**copy, api_options(), ImportOptions{});
    auto files = Importer::list_files(dir_ / from);
    EXPECT_TRUE(files);
    auto s = importer.run(*files);
    EXPECT_TRUE(s) << (s ? "" : s.error().message());
    return s ? *s : ImportSummary{};
  };
  auto full = import_into("full");
  EXPECT_EQ(full.created, 3U);
  auto increment = import_into("increment");
  EXPECT_EQ(increment.created, 1U);
  EXPECT_EQ(increment.updated, 1U);
  EXPECT_EQ(increment.deleted, 1U);
  EXPECT_TRUE(increment.rejections.empty()) << increment.rejections.front().reason;
  EXPECT_FALSE((*copy)->read("Patient", "k3"));  // gone
  EXPECT_EQ(str(json::parse((*copy)->read("Patient", "k2")->json).as_object(), {"name", "0", "family"}),
            "Changed again");
  EXPECT_TRUE((*copy)->read("Patient", "k4"));
  EXPECT_TRUE((*copy)->read("Patient", "k1"));
}

TEST_F(BulkImportTest, ImportingAgainSkipsFinishedFilesAndResumesWhereItStopped) {
  const auto f =
      write("three.ndjson", patient("r1", "A") + "\n" + patient("r2", "B") + "\n" + patient("r3", "C") + "\n");
  auto first = import({f}, 1);
  EXPECT_EQ(first.created, 3U);
  auto second = import({f});
  EXPECT_EQ(second.files_skipped, 1U);
  EXPECT_EQ(second.created + second.updated, 0U);
  // As if the first run had stopped after two lines.
  auto kept = store_->get_meta(store_->list_meta("import:", "", 10)->front().first);
  ASSERT_TRUE(kept && kept->has_value());
  auto state = json::parse(**kept).as_object();
  state["done"] = false;
  state["line"] = 2;
  state["offset"] = static_cast<std::int64_t>(2 * (patient("r1", "A").size() + 1));
  const std::string key = store_->list_meta("import:", "", 10)->front().first;
  ASSERT_TRUE(store_->write([&](store::Transaction& t) { return t.set_meta(key, json::serialize(state)); }));
  auto resumed = import({f});
  EXPECT_EQ(resumed.files, 1U);
  EXPECT_EQ(resumed.updated, 1U);
  EXPECT_EQ(resumed.created, 0U);
  // A file changed since is read again from the start; ids make that safe.
  std::ofstream(f, std::ios::app) << patient("r4", "D") << "\n";
  auto changed = import({f});
  EXPECT_EQ(changed.updated, 3U);
  EXPECT_EQ(changed.created, 1U);
  EXPECT_EQ(family_of("r3"), "C");
}

TEST_F(BulkImportTest, ExportThenImportIntoAnEmptyStoreGivesTheSameResources) {
  {
    Api loader(*store_, ApiOptions{});
    ASSERT_TRUE(demo::load(loader, 8, {}));
  }
  // History the export must not repeat: an update and a deletion.
  const std::string extra = create("Patient", patient({}, "Changed"));
  ASSERT_EQ(put("Patient", extra, patient(extra, "Changed-again")).status, 200);
  const std::string gone = create("Patient", patient({}, "Gone"));
  ASSERT_EQ(call("DELETE", "/fhir/Patient/" + gone).status, 204);

  ExportRun run;
  run.transaction_time = core::now_micros();
  run.directory = dir_ / "export";
  run.max_file_bytes = std::uint64_t{64} * 1024;  // several files per large type
  auto files = write_export(*store_, ExportSpec{}, run);
  ASSERT_TRUE(files) << files.error().message();
  EXPECT_TRUE(files->errors.empty());

  // A second, empty store.
  const auto other_dir = dir_ / "other";
  std::filesystem::create_directories(other_dir);
  store::SqliteOptions so;
  so.directory = other_dir;
  auto other = store::open_sqlite_store(so);
  ASSERT_TRUE(other);
  auto listed = Importer::list_files(dir_ / "export");
  ASSERT_TRUE(listed);
  ApiOptions ao;
  ao.link_patients = false;
  Importer importer(**other, ao, ImportOptions{});
  auto s = importer.run(*listed);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->rejections.empty()) << s->rejections.front().where << ": " << s->rejections.front().reason;

  // Both exports hold the same resources with the same ids; only meta.versionId and
  // meta.lastUpdated differ (the importing store numbers and stamps its own versions).
  ExportRun run2 = run;
  run2.transaction_time = core::now_micros();
  run2.directory = dir_ / "export2";
  ASSERT_TRUE(write_export(**other, ExportSpec{}, run2));
  const auto read_all = [](const std::filesystem::path& d) {
    std::map<std::string, json::object> out;
    for (const auto& e : std::filesystem::directory_iterator(d)) {
      std::ifstream in(e.path());
      std::string line;
      while (std::getline(in, line)) {
        auto o = json::parse(line).as_object();
        auto& meta = o["meta"].as_object();
        meta.erase("versionId");
        meta.erase("lastUpdated");
        if (meta.empty()) o.erase("meta");
        out[str(o, {"resourceType"}) + "/" + str(o, {"id"})] = std::move(o);
      }
    }
    return out;
  };
  const auto a = read_all(dir_ / "export");
  const auto b = read_all(dir_ / "export2");
  EXPECT_GT(a.size(), 300U);
  EXPECT_EQ(a.size(), b.size());
  EXPECT_EQ(s->created, a.size());
  std::size_t differing = 0;
  for (const auto& [key, resource] : a) {
    auto it = b.find(key);
    if (it == b.end() || it->second != resource) ++differing;
  }
  EXPECT_EQ(differing, 0U);
  EXPECT_EQ(a.count("Patient/" + gone), 0U);
  EXPECT_EQ(str(a.at("Patient/" + extra), {"name", "0", "family"}), "Changed-again");
}

TEST_F(BulkImportTest, GzipNdjsonAndGzipBundlesAreRead) {
  std::string text;
  for (int i = 0; i < 30; ++i) {
    text += R"({"resourceType":"Patient","id":"gz)" + std::to_string(i) + R"(","name":[{"family":"Zipped"}]})" + "\n";
  }
  const auto nd = write_gz("patients.ndjson.gz", text);
  const auto bundle = write_gz(
      "bundle.json.gz",
      R"({"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","name":[{"family":"InABundle"}]},"request":{"method":"POST","url":"Patient"}}]})");
  auto listed = Importer::list_files(files_);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 2U);
  auto s = import(*listed, 7);
  EXPECT_TRUE(s.rejections.empty()) << s.rejections.front().where << ": " << s.rejections.front().reason;
  EXPECT_EQ(s.created, 31U);
  EXPECT_EQ(family_of("gz29"), "Zipped");
  const auto second = import({nd}, 7);
  EXPECT_EQ(second.files_skipped, 1U);
  // A damaged gzip file is reported, not half-imported silently.
  std::string damaged;
  {
    std::ifstream in(nd, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    damaged = ss.str().substr(0, ss.str().size() / 2);
  }
  std::ofstream(files_ / "damaged.ndjson.gz", std::ios::binary | std::ios::trunc) << damaged;
  const auto bad = import({files_ / "damaged.ndjson.gz"}, 7);
  ASSERT_FALSE(bad.rejections.empty());
  EXPECT_NE(bad.rejections.back().reason.find("gzip"), std::string::npos) << bad.rejections.back().reason;
}

TEST_F(BulkImportTest, ExportWithTheNewOptionsThenImportGzippedGivesTheSameResources) {
  {
    Api loader(*store_, ApiOptions{});
    ASSERT_TRUE(demo::load(loader, 8, {}));
  }
  // Provenance for some laboratory results, so that includeAssociatedData has something to add.
  auto labs = body_of(call("GET", "/fhir/Observation?category=laboratory&_count=3"));
  ASSERT_TRUE(labs.contains("entry"));
  std::string org = str(body_of(call("GET", "/fhir/Organization?_count=1")), {"entry", "0", "resource", "id"});
  for (const auto& e : labs.at("entry").as_array()) {
    create("Provenance",
           json::serialize(json::object{
               {"resourceType", "Provenance"},
               {"target", json::array{json::object{{"reference", "Observation/" + str(e, {"resource", "id"})}}}},
               {"recorded", "2024-05-01T10:00:00Z"},
               {"agent", json::array{json::object{{"who", json::object{{"reference", "Organization/" + org}}}}}}}));
  }
  ExportSpec spec;
  spec.level = ExportLevel::patient;
  spec.types = {"Patient", "Observation", "Condition"};
  spec.type_filters = {{"Observation", "category=laboratory"}};
  spec.associated = AssociatedData::latest_provenance;
  spec.ignored = {"a parameter ignored under Prefer: handling=lenient"};
  ExportRun run;
  run.transaction_time = core::now_micros();
  run.directory = dir_ / "export";
  auto files = write_export(*store_, spec, run);
  ASSERT_TRUE(files) << files.error().message();
  ASSERT_EQ(files->errors.size(), 1U);
  // As `ucr export` leaves it: a manifest beside the files; the error file is not data to import.
  std::ofstream(run.directory / "manifest.json") << "{}";
  // Compressed, as a data lake would keep them.
  const auto gz_dir = dir_ / "export-gz";
  std::filesystem::create_directories(gz_dir);
  for (const auto& f : files->output) {
    std::ifstream in(run.directory / f.name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    gzFile gz = gzopen((gz_dir / (f.name + ".gz")).c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    ASSERT_EQ(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
    gzclose(gz);
  }
  const auto listed_plain = Importer::list_files(run.directory);
  ASSERT_TRUE(listed_plain);
  EXPECT_EQ(listed_plain->size(), files->output.size()) << "the error file is not listed";

  const auto other_dir = dir_ / "other";
  std::filesystem::create_directories(other_dir);
  store::SqliteOptions so;
  so.directory = other_dir;
  auto other = store::open_sqlite_store(so);
  ASSERT_TRUE(other);
  auto listed = Importer::list_files(gz_dir);
  ASSERT_TRUE(listed);
  ApiOptions ao;
  ao.link_patients = false;
  Importer importer(**other, ao, ImportOptions{});
  auto s = importer.run(*listed);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->rejections.empty()) << s->rejections.front().where << ": " << s->rejections.front().reason;

  ExportRun run2 = run;
  run2.transaction_time = core::now_micros();
  run2.directory = dir_ / "export2";
  auto again = write_export(**other, spec, run2);
  ASSERT_TRUE(again) << again.error().message();
  const auto a = read_export(gz_dir);
  const auto b = read_export(run2.directory);
  std::size_t provenance = 0;
  std::size_t observations = 0;
  for (const auto& [key, r] : a) {
    provenance += key.starts_with("Provenance/") ? 1 : 0;
    if (key.starts_with("Observation/")) {
      ++observations;
      EXPECT_EQ(str(r, {"category", "0", "coding", "0", "code"}), "laboratory") << key;
    }
  }
  EXPECT_EQ(provenance, 3U);
  EXPECT_GT(observations, 3U);
  EXPECT_EQ(s->created, a.size());
  EXPECT_EQ(a, b);
}

TEST_F(BulkImportTest, SubsettedResourcesAreNotImported) {
  const auto p = write(
      "subset.ndjson",
      R"({"resourceType":"Patient","id":"s1","meta":{"tag":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED"}]},"name":[{"family":"Part"}]})"
      "\n"
      R"({"resourceType":"Patient","id":"s2","name":[{"family":"Whole"}]})"
      "\n");
  const auto s = import({p});
  EXPECT_EQ(s.created, 1U);
  ASSERT_EQ(s.rejections.size(), 1U);
  EXPECT_NE(s.rejections[0].reason.find("SUBSETTED"), std::string::npos) << s.rejections[0].reason;
  EXPECT_EQ(call("GET", "/fhir/Patient/s1").status, 404);
}

}  // namespace
}  // namespace ucr::api::testing
