// Sample sheets and group expansion: CSV, TSV and Illumina sheets; each row a child whose
// problems name the sheet's line; `{column}` in input paths; duplicate and invalid keys.
import HopperCore
import Testing

@Suite struct GroupManifestTests {
    func table(_ text: String, _ name: String = "s.csv") throws -> SheetTable {
        try SampleSheet.parse(Array(text.utf8), fileName: name).get()
    }

    @Test func csvWithQuotesBlankLinesAndTrailingCommas() throws {
        let t = try table("\u{FEFF}sample,desc,lane,,\r\nS1,\"a, b\",1,,\r\n\r\n,,,\nS2,\"say \"\"hi\"\"\",2\n")
        #expect(t.columns == ["sample", "desc", "lane"])
        #expect(t.rows.map(\.line) == [2, 5])
        #expect(t.rows[0].values == ["sample": "S1", "desc": "a, b", "lane": "1"])
        #expect(t.rows[1].values["desc"] == "say \"hi\"")
    }

    @Test func tsvByExtensionOrHeader() throws {
        #expect(try table("a\tb\n1\t2\n", "x.tsv").rows[0].values == ["a": "1", "b": "2"])
        #expect(try table("a\tb\n1\t2\n", "x.txt").columns == ["a", "b"])
    }

    @Test func illuminaV2AndV1Sections() throws {
        let v2 = "[Header]\nFileFormatVersion,2\n[BCLConvert_Settings]\nx,1\n[BCLConvert_Data]\nSample_ID,Index\nS1,AC\nS2,GT\n[Cloud_Data]\nq,r\n"
        let t = try table(v2, "SampleSheet.csv")
        #expect(t.columns == ["Sample_ID", "Index"])
        #expect(t.rows.map(\.line) == [7, 8])
        let v1 = "[Header],,\nIEMFileVersion,4,\n[Data],,\nSample_ID,Sample_Name,index\nA1,n,ACGT\n"
        #expect(try table(v1, "SampleSheet.csv").rows[0].values["index"] == "ACGT")
        let none = SampleSheet.parse(Array("[Header]\nx,1\n".utf8), fileName: "SampleSheet.csv")
        guard case .failure(let e) = none else { Issue.record("accepted a sheet without data"); return }
        #expect(e.formatted.contains("needs a [BCLConvert_Data] or [Data] section"))
    }

    @Test func badRowsNameTheirLines() throws {
        guard case .failure(let e) = SampleSheet.parse(Array("a,b\n1,2,3\n4,\"5\n".utf8), fileName: "s.csv") else {
            Issue.record("accepted"); return
        }
        #expect(e.formatted == "s.csv:2: the row has 3 fields; the header has 2 columns\ns.csv:3: a quoted field is not closed on its line")
        guard case .failure(let dup) = SampleSheet.parse(Array("a,a\n".utf8), fileName: "s.csv") else { Issue.record("accepted"); return }
        #expect(dup.formatted == "s.csv:1: the header names column \"a\" twice")
    }

    func draft(_ yaml: String) throws -> GroupDraft {
        guard case .success(.group(let d)) = ManifestParser.parse(text: yaml, fileName: "g.yaml", catalog: nil) else {
            throw GroupTestError()
        }
        return d
    }

    @Test func rowsFillParamsAndInputPlaceholders() throws {
        let d = try draft("foreach: {samplesheet: s.csv, key: sample}\nparams: {tag: x}\ninputs: {reads: \"/d/{sample}_{lane}.fq\"}\nsteps: [{name: a, run: \"true\"}]\n")
        let t = try table("sample,lane\nS1,1\nS2,2\n")
        let children = try GroupExpansion.expand(d, table: t, sheetName: "s.csv", manifestName: "g.yaml", groupID: "g",
                                                 catalog: nil, maxSize: 10).get()
        #expect(children.map(\.id) == ["g.S1", "g.S2"])
        #expect(children[1].manifest.inputs == ["reads": "/d/S2_2.fq"])
        #expect(children[1].manifest.params == ["tag": .string("x"), "sample": .string("S2"), "lane": .integer(2)])
        #expect(children[0].manifest.group == "g")
        // The child's manifest.yaml parses back to the same job.
        let text = YAMLEmitter.emit(children[0].node)
        guard case .success(.job(let again)) = ManifestParser.parse(text: text, fileName: "c.yaml", catalog: nil) else {
            Issue.record("child manifest does not parse: \(text)"); return
        }
        #expect(again.inputs == children[0].manifest.inputs)
    }

    @Test func everyProblemIsReportedOnceWithItsPlace() throws {
        let d = try draft("foreach: {samplesheet: s.csv}\nretries: many\nsteps: [{name: a, run: \"true\"}]\n")
        let t = try table("id,n\nS1,1\nS1,2\n,3\nbad/key,4\n")
        guard case .failure(let e) = GroupExpansion.expand(d, table: t, sheetName: "s.csv", manifestName: "g.yaml", groupID: "g",
                                                           catalog: nil, maxSize: 10) else { Issue.record("accepted"); return }
        #expect(e.formatted == """
            g.yaml:2:10: retries: expected an integer; got "many"
            s.csv:3: row S1: id: key "S1" is also the key of the row on line 2; each row needs its own
            s.csv:4: row on line 4: the key column "id" is empty
            s.csv:5: row bad/key: id: "bad/key" cannot name a job: the child id "g.bad/key" must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}
            """)
        guard case .failure(let big) = GroupExpansion.expand(d, table: t, sheetName: "s.csv", manifestName: "g.yaml", groupID: "g",
                                                             catalog: nil, maxSize: 2) else { Issue.record("accepted"); return }
        #expect(big.formatted.contains("the group has 4 rows; this daemon takes at most 2 per group (max_group_size)"))
    }
}

struct GroupTestError: Error {}
