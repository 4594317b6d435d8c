-- wrk: GET /fhir/Patient?family=FamilyN&gender=...&_count=10 for random family names of the preloaded
-- Patients (http_bench.sh names them Family0..Family996).
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  local gender = "male"
  if math.random(2) == 2 then gender = "female" end
  return wrk.format("GET", "/fhir/Patient?family=Family" .. math.random(0, 996) .. "&gender=" .. gender .. "&_count=10")
end
