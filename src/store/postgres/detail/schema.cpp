#include "store/postgres/detail/schema.hpp"

#include <array>

namespace ucr::store::pg_detail {
namespace {

// The same shape as the embedded schema (docs/architecture.md), plus `compartment` on every row:
// "Patient/{id}" for data in a patient's compartment, '' otherwise. It is the distribution key a
// sharded deployment (Citus) would use, so that one person's data lives together.
// Text columns compare bytewise (COLLATE "C"), as SQLite does: id order, paging cursors and prefix
// ranges then agree between the backends whatever the database's locale.
// Index tables carry no unique key (long values would exceed a btree entry); duplicate rows are
// removed when inserted (SELECT DISTINCT).
constexpr const char* kV1 = R"sql(
CREATE TABLE ucr_meta(key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE audit_event(seq BIGINT PRIMARY KEY, recorded BIGINT NOT NULL, patient TEXT COLLATE "C",
  json TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE resource_version(
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  type TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  last_updated BIGINT NOT NULL,
  deleted SMALLINT NOT NULL,
  method TEXT NOT NULL,
  compartment TEXT COLLATE "C",
  json TEXT);
CREATE UNIQUE INDEX resource_version_key ON resource_version(type, id, version);
CREATE INDEX resource_version_type ON resource_version(type, seq);
CREATE TABLE resource_current(
  type TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  rid BIGINT NOT NULL,
  version BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  deleted SMALLINT NOT NULL,
  last_updated BIGINT NOT NULL,
  compartment TEXT COLLATE "C",
  PRIMARY KEY(type, id));
CREATE UNIQUE INDEX resource_current_rid ON resource_current(rid);
CREATE TABLE idx_string(type TEXT COLLATE "C" NOT NULL, param TEXT COLLATE "C" NOT NULL,
  normalized TEXT COLLATE "C" NOT NULL, exact TEXT COLLATE "C" NOT NULL, rid BIGINT NOT NULL,
  compartment TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_string_key ON idx_string(type, param, normalized, rid);
CREATE INDEX idx_string_owner ON idx_string(rid);
CREATE TABLE idx_token(type TEXT COLLATE "C" NOT NULL, param TEXT COLLATE "C" NOT NULL,
  code TEXT COLLATE "C" NOT NULL, system TEXT COLLATE "C" NOT NULL, text TEXT COLLATE "C" NOT NULL,
  rid BIGINT NOT NULL, compartment TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_token_key ON idx_token(type, param, code, system, rid);
CREATE INDEX idx_token_owner ON idx_token(rid);
CREATE TABLE idx_reference(type TEXT COLLATE "C" NOT NULL, param TEXT COLLATE "C" NOT NULL,
  target_id TEXT COLLATE "C" NOT NULL, target_type TEXT COLLATE "C" NOT NULL, url TEXT COLLATE "C" NOT NULL,
  rid BIGINT NOT NULL, compartment TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_reference_key ON idx_reference(type, param, target_id, target_type, rid);
CREATE INDEX idx_reference_target ON idx_reference(target_type, target_id);
CREATE INDEX idx_reference_owner ON idx_reference(rid);
CREATE TABLE idx_date(type TEXT COLLATE "C" NOT NULL, param TEXT COLLATE "C" NOT NULL, low BIGINT NOT NULL,
  high BIGINT NOT NULL, rid BIGINT NOT NULL, compartment TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_date_key ON idx_date(type, param, low, high, rid);
CREATE INDEX idx_date_owner ON idx_date(rid);
CREATE TABLE idx_number(type TEXT COLLATE "C" NOT NULL, param TEXT COLLATE "C" NOT NULL,
  value DOUBLE PRECISION NOT NULL, low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
  rid BIGINT NOT NULL, compartment TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_number_key ON idx_number(type, param, value, rid);
CREATE INDEX idx_number_owner ON idx_number(rid);
CREATE TABLE idx_quantity(type TEXT COLLATE "C" NOT NULL, param TEXT COLLATE "C" NOT NULL,
  value DOUBLE PRECISION NOT NULL, low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
  system TEXT COLLATE "C" NOT NULL, code TEXT COLLATE "C" NOT NULL, unit TEXT COLLATE "C" NOT NULL,
  rid BIGINT NOT NULL, compartment TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_quantity_key ON idx_quantity(type, param, value, rid);
CREATE INDEX idx_quantity_owner ON idx_quantity(rid);
CREATE TABLE idx_uri(type TEXT COLLATE "C" NOT NULL, param TEXT COLLATE "C" NOT NULL, uri TEXT COLLATE "C" NOT NULL,
  rid BIGINT NOT NULL, compartment TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_uri_key ON idx_uri(type, param, uri, rid);
CREATE INDEX idx_uri_owner ON idx_uri(rid);
CREATE TABLE idx_composite(type TEXT COLLATE "C" NOT NULL, param TEXT COLLATE "C" NOT NULL,
  system1 TEXT COLLATE "C" NOT NULL, code1 TEXT COLLATE "C" NOT NULL, system TEXT COLLATE "C" NOT NULL,
  code TEXT COLLATE "C" NOT NULL, unit TEXT COLLATE "C" NOT NULL, normalized TEXT COLLATE "C" NOT NULL,
  exact TEXT COLLATE "C" NOT NULL, uri TEXT COLLATE "C" NOT NULL, target_type TEXT COLLATE "C" NOT NULL,
  target_id TEXT COLLATE "C" NOT NULL, url TEXT COLLATE "C" NOT NULL, value DOUBLE PRECISION NOT NULL,
  low BIGINT NOT NULL, high BIGINT NOT NULL, rid BIGINT NOT NULL, compartment TEXT COLLATE "C" NOT NULL);
CREATE INDEX idx_composite_value ON idx_composite(type, param, code1, system1);
CREATE INDEX idx_composite_owner ON idx_composite(rid);
CREATE TABLE compartment(patient TEXT COLLATE "C" NOT NULL, type TEXT COLLATE "C" NOT NULL, rid BIGINT NOT NULL,
  compartment TEXT COLLATE "C" NOT NULL, PRIMARY KEY(patient, type, rid));
CREATE INDEX compartment_owner ON compartment(rid);
)sql";

// Audit entries about one patient ("who viewed my record") are read newest first by patient.
constexpr const char* kV2 = R"sql(
CREATE INDEX audit_event_patient ON audit_event(patient, seq) WHERE patient IS NOT NULL;
)sql";

// The token-signing key ring shared by every node (auth/jwt.hpp): one key per generation, so that
// two nodes rotating at once cannot both add one; private keys sealed by the key ring.
constexpr const char* kV3 = R"sql(
CREATE TABLE signing_key(generation BIGINT PRIMARY KEY, kid TEXT COLLATE "C" NOT NULL UNIQUE,
  created BIGINT NOT NULL, sealed TEXT NOT NULL);
)sql";

// Contained resources are indexed (R4 search.html#contained) under contained rids in the same
// tables; those of resources stored before are missing until the server has reindexed them, which
// it does in the background when this key is set (store.hpp kContainedReindexKey).
constexpr const char* kV4 = R"sql(
INSERT INTO ucr_meta(key, value) SELECT 'reindex:contained', 'pending' WHERE EXISTS (SELECT 1 FROM resource_current)
ON CONFLICT (key) DO NOTHING;
)sql";

constexpr std::array<Migration, 4> kMigrations{{
    {1, "resources, history, search index, compartments, bookkeeping and audit tables", kV1},
    {2, "audit entries by patient", kV2},
    {3, "signing keys shared by the nodes", kV3},
    {4, "contained resources searchable (those stored before are reindexed by the server)", kV4},
}};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

}  // namespace ucr::store::pg_detail
