/* fhir/definitions_data: embeds data/fhir-r4/definitions.json into the library (read-only data).
   UCR_FHIR_DEFINITIONS_JSON is the file's absolute path, set by src/fhir/CMakeLists.txt. */
        .section .rodata
        .global ucr_fhir_definitions_json
        .type ucr_fhir_definitions_json, @object
        .balign 16
ucr_fhir_definitions_json:
        .incbin UCR_FHIR_DEFINITIONS_JSON
ucr_fhir_definitions_json_end:
        .byte 0
        .size ucr_fhir_definitions_json, . - ucr_fhir_definitions_json

        .global ucr_fhir_definitions_json_size
        .type ucr_fhir_definitions_json_size, @object
        .balign 8
ucr_fhir_definitions_json_size:
        .quad ucr_fhir_definitions_json_end - ucr_fhir_definitions_json
        .size ucr_fhir_definitions_json_size, 8

        .section .note.GNU-stack,"",@progbits
