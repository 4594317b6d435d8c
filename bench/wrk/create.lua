-- wrk: POST /fhir/Patient (create) with a small Patient.
wrk.method = "POST"
wrk.path = "/fhir/Patient"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Prefer"] = "return=minimal"
wrk.body = '{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.840.1.113883.2.1.4.1","value":"9000000009"}],'
  .. '"name":[{"family":"Bench","given":["Wrk"]}],"gender":"female","birthDate":"1980-01-01"}'
