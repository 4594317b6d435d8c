-- wrk: POST /fhir/Patient (create) with a small Patient, a different (fictional) person each time:
-- every create is matched against the stored Patients (record linkage), so identical bodies would
-- measure a pile of duplicates rather than a stream of arrivals.
wrk.method = "POST"
wrk.path = "/fhir/Patient"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Prefer"] = "return=minimal"

local syllables = {"ab", "bel", "car", "dun", "el", "far", "gor", "ham", "ing", "jar", "kel", "lin", "mor", "nor",
                   "os", "per", "ran", "sel", "ton", "wick"}
local givens = {"Alice", "Ben", "Chloe", "Daniel", "Emma", "Finley", "Grace", "Harvey", "Isla", "Jacob", "Kiran",
                "Lily", "Mohammed", "Niamh", "Oscar", "Poppy", "Reuben", "Sofia", "Toby", "Zara"}
local counter = 0
-- Seeded from the clock and an address, so that runs one after another against the same store send
-- different people (an unseeded generator repeats the last run's people, which are then duplicates).
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)

function setup(thread)
  thread:set("base", math.random(1, 1000000000))
end

-- A pseudo-random person from n: 8,000 family names, 20 given names, birth dates over 90 years.
request = function()
  counter = counter + 1
  local n = (base or 0) + counter
  local h = (n * 48271) % 2147483647
  local function pick(m)
    local v = h % m
    h = math.floor(h / m)
    return v
  end
  local family = syllables[pick(20) + 1] .. syllables[pick(20) + 1] .. syllables[pick(20) + 1]
  local given = givens[pick(20) + 1]
  local body = string.format(
    '{"resourceType":"Patient","identifier":[{"system":"urn:ucr:bench","value":"%d"}],' ..
    '"name":[{"family":"%s","given":["%s"]}],"gender":"%s","birthDate":"%04d-%02d-%02d"}',
    n, family:sub(1, 1):upper() .. family:sub(2), given, (pick(2) == 0) and "female" or "male",
    1930 + pick(90), pick(12) + 1, (n * 13) % 28 + 1)
  return wrk.format(nil, nil, nil, body)
end
